// Repeats a refresh while a page is on screen: fast while something moves, slowly otherwise.

export const FAST_MS = 2000;
export const SLOW_MS = 15000;

export function poller(refresh) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    let busy = false;
    try { busy = await refresh(); } catch (err) { console.warn(err); }
    if (!stopped) timer = setTimeout(tick, busy ? FAST_MS : SLOW_MS);
  };
  tick();
  return {
    stop() { stopped = true; clearTimeout(timer); },
    now() { clearTimeout(timer); if (!stopped) tick(); },
  };
}
