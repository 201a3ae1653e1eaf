// Loads the charts chunk (uPlot) on first use: a hashed script with SRI, like the widget's panel.
import type uPlotType from 'uplot';

declare const __CHARTS_FILE__: string;
declare const __CHARTS_SRI__: string;

type Win = Window & { __frontdeskCharts?: (u: typeof uPlotType) => void };
let loading: Promise<typeof uPlotType> | null = null;

export function loadCharts(): Promise<typeof uPlotType> {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      (window as Win).__frontdeskCharts = resolve;
      const s = document.createElement('script');
      s.src = `/assets/${__CHARTS_FILE__}`;
      s.integrity = __CHARTS_SRI__;
      s.async = true;
      s.onerror = () => {
        loading = null;
        reject(new Error('the charts could not be loaded'));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}
