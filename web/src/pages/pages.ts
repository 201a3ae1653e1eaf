// Behaviour of the server's own pages (the demo shop, the playground): buttons that drive the
// widget through its command API. An external file, so the pages need no inline script.
type Cmd = (...args: unknown[]) => unknown;
const fd = (...args: unknown[]) => {
  const w = window as unknown as { Frontdesk?: Cmd & { q?: unknown[][] } };
  if (!w.Frontdesk) {
    const stub = ((...a: unknown[]) => void stub.q!.push(a)) as Cmd & { q?: unknown[][] };
    stub.q = [];
    w.Frontdesk = stub;
  }
  return w.Frontdesk(...args);
};

document.addEventListener('click', (e) => {
  const target = (e.target as Element | null)?.closest?.('[data-frontdesk]');
  const cmd = target?.getAttribute('data-frontdesk');
  if (cmd && target !== document.getElementById('frontdesk-widget')) fd(cmd);
});
