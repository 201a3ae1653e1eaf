// uPlot charts with a data table for screen readers and keyboard users.
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { loadCharts } from './load-charts';

export interface ChartSeries {
  label: string;
  values: number[];
  color: string;
}

interface Props {
  title: string;
  /** x values: unix seconds (time axis) or plain numbers (`time: false`). */
  x: number[];
  series: ChartSeries[];
  bars?: boolean;
  stacked?: boolean;
  time?: boolean;
  xLabel?: (x: number) => string;
  height?: number;
}

export function Chart({ title, x, series, bars, time = true, xLabel, height = 220 }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [lib, setLib] = useState<typeof uPlot | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    // uPlot is a function: wrap it, or the state setter would call it as an updater.
    loadCharts().then((u) => setLib(() => u), () => setFailed(true));
  }, []);
  useEffect(() => {
    const el = box.current;
    if (!el || !lib) return;
    const uPlot = lib;
    const width = Math.max(280, el.clientWidth);
    // Two bar series stand side by side (one left of the tick, one right).
    const barPaths = (i: number) =>
      series.length === 2
        ? uPlot.paths.bars?.({ size: [0.4, 14], gap: 1, align: i === 0 ? -1 : 1 })
        : uPlot.paths.bars?.({ size: [0.7, 28], gap: 1 });
    const plot = new uPlot(
      {
        width,
        height,
        scales: { x: { time } },
        legend: { show: series.length > 1 },
        cursor: { drag: { x: false, y: false } },
        axes: [{ stroke: '#4b5563', grid: { show: false } }, { stroke: '#4b5563', grid: { stroke: '#e5e7eb' } }],
        series: [
          { label: time ? 'Day' : 'Hour', value: xLabel ? (_u, v) => (v == null ? '' : xLabel(v)) : undefined },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.color,
            fill: bars ? `${s.color}cc` : `${s.color}22`,
            width: bars ? 0 : 2,
            paths: bars ? barPaths(i) : undefined,
            points: { show: !bars && x.length < 40 },
          })),
        ],
      },
      [x, ...series.map((s) => s.values)],
      el,
    );
    const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    ro?.observe(el);
    return () => {
      ro?.disconnect();
      plot.destroy();
    };
  }, [lib, x, series, bars, time, height]);
  const label = (v: number) => (xLabel ? xLabel(v) : time ? new Date(v * 1000).toLocaleDateString() : String(v));
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-canvas" aria-hidden="true" />
      {failed && <p class="error">The chart could not be loaded; the data table below has the numbers.</p>}
      <details class="chart-table">
        <summary>Data table: {title}</summary>
        <table class="table compact">
          <thead>
            <tr>
              <th scope="col">{time ? 'Day' : 'Hour'}</th>
              {series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {x.map((v, i) => (
              <tr key={v}>
                <th scope="row">{label(v)}</th>
                {series.map((s) => (
                  <td key={s.label}>{s.values[i]}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
