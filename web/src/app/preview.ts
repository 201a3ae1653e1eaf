// The widget preview page (/app/preview), framed by the dashboard's site settings: configures the
// real widget loader (which runs next) in preview mode, then tells the dashboard it may post the
// draft configuration. Only the same origin is talked to.
(window as Window & { FrontdeskConfig?: unknown }).FrontdeskConfig = {
  apiUrl: location.origin,
  apiKey: 'pk_preview',
  preview: true,
  tracking: false,
};

document.addEventListener('DOMContentLoaded', () => {
  if (window.parent !== window) window.parent.postMessage({ type: 'frontdesk:preview-ready' }, location.origin);
});
