// The charts chunk: uPlot, loaded by the analytics page only (see ui/chart.tsx).
import uPlot from 'uplot';

(window as Window & { __frontdeskCharts?: (u: typeof uPlot) => void }).__frontdeskCharts?.(uPlot);
