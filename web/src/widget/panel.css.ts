export const PANEL_CSS = `
.fd-panel{position:fixed;bottom:88px;inset-inline-end:20px;z-index:2147483000;width:370px;max-width:calc(100vw - 40px);height:min(620px,calc(100vh - 110px));
display:flex;flex-direction:column;background:#fff;color:#111827;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;animation:fd-in .18s ease-out}
.fd-panel[hidden]{display:none}
.fd-left .fd-panel{inset-inline-end:auto;inset-inline-start:20px}
.fd-frame .fd-panel{position:relative;bottom:auto;inset-inline:auto;width:100%;max-width:none;height:100%;min-height:480px;box-shadow:none;border:1px solid #e5e7eb;animation:none}
@keyframes fd-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}
@media (max-width:480px){.fd-root:not(.fd-frame) .fd-panel{inset:0;width:auto;max-width:none;height:100%;border-radius:0}}
.fd-head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--fd-bg);color:var(--fd-fg)}
.fd-head h2{flex:1;margin:0;font-size:16px;font-weight:600}
.fd-head button{background:transparent;color:inherit;border:1px solid transparent;border-radius:6px;padding:4px 8px;font:inherit;font-size:13px;cursor:pointer}
.fd-head button:hover,.fd-head button:focus-visible{border-color:currentColor}
.fd-icon{font-size:20px!important;line-height:1}
.fd-banner{padding:8px 14px;background:#fef3c7;color:#78350f;font-size:13px}
.fd-banner[hidden]{display:none}
.fd-log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;overscroll-behavior:contain}
.fd-welcome h3{margin:0 0 4px;font-size:18px}
.fd-welcome p{margin:0;color:#4b5563}
.fd-msg{max-width:85%;padding:8px 12px;border-radius:12px;background:#f3f4f6;word-wrap:break-word;overflow-wrap:anywhere}
.fd-msg.fd-visitor{align-self:flex-end;background:var(--fd-bg);color:var(--fd-fg)}
.fd-msg.fd-system{align-self:center;background:transparent;color:#4b5563;font-size:13px;text-align:center}
.fd-msg.fd-agent{background:#e0f2fe}
.fd-msg p{margin:0 0 6px}.fd-msg p:last-child{margin-bottom:0}
.fd-msg a{color:#1d4ed8}
.fd-visitor a{color:inherit}
.fd-msg ul,.fd-msg ol{margin:4px 0;padding-inline-start:20px}
.fd-who{display:block;font-size:11px;color:#6b7280;margin-bottom:2px}
.fd-cites{margin-top:6px;padding-top:6px;border-top:1px solid #d1d5db;font-size:12px}
.fd-cites ul{margin:2px 0 0;padding-inline-start:16px}
.fd-react{display:flex;gap:4px;margin-top:4px}
.fd-react button{border:1px solid #d1d5db;background:#fff;color:#374151;border-radius:6px;padding:3px 6px;cursor:pointer;line-height:0}
.fd-react svg{width:14px;height:14px;fill:currentColor}
.fd-react button[aria-pressed=true]{background:#111827;color:#fff;border-color:#111827}
[hidden]{display:none!important}
.fd-chips{display:flex;flex-wrap:wrap;gap:6px;padding:0 14px 8px}
.fd-chips button{border:1px solid var(--fd-bg);color:#111827;background:#fff;border-radius:16px;padding:4px 12px;font:inherit;font-size:13px;cursor:pointer}
.fd-chips button:hover,.fd-chips button:focus-visible{background:#f3f4f6}
.fd-status{min-height:22px;padding:0 14px;font-size:13px;color:#4b5563;display:flex;align-items:center;gap:6px}
.fd-dots{display:inline-flex;gap:3px}
.fd-dots i{width:6px;height:6px;border-radius:50%;background:#9ca3af;animation:fd-blink 1s infinite}
.fd-dots i:nth-child(2){animation-delay:.2s}.fd-dots i:nth-child(3){animation-delay:.4s}
@keyframes fd-blink{0%,100%{opacity:.3}50%{opacity:1}}
.fd-form{display:flex;gap:8px;padding:10px 14px;border-top:1px solid #e5e7eb}
.fd-form textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:8px;padding:8px;font:inherit;min-height:40px;max-height:120px;color:#111827;background:#fff}
.fd-form textarea:focus-visible{outline:2px solid var(--fd-bg);outline-offset:1px}
.fd-send{border:0;border-radius:8px;padding:0 14px;background:var(--fd-bg);color:var(--fd-fg);font:inherit;font-weight:600;cursor:pointer}
.fd-send:disabled{opacity:.55;cursor:not-allowed}
.fd-rate,.fd-channels{padding:16px;display:flex;flex-direction:column;gap:10px}
.fd-history{flex:1;overflow-y:auto;padding:12px 14px;display:flex;flex-direction:column;gap:8px}
.fd-past{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:6px}
.fd-note{color:#4b5563;font-size:13px;text-align:center}
.fd-history[hidden],.fd-rate[hidden],.fd-channels[hidden],.fd-form[hidden]{display:none}
.fd-stars{display:flex;gap:4px}
.fd-sub{margin:0;font-size:13px;color:#4b5563}
.fd-tags{display:flex;flex-wrap:wrap;gap:6px}
.fd-tags button{border:1px solid #d1d5db;color:#111827;background:#fff;border-radius:16px;padding:4px 12px;font:inherit;font-size:13px;cursor:pointer}
.fd-tags button:focus-visible{outline:2px solid var(--fd-bg);outline-offset:1px}
.fd-tags button[aria-pressed=true]{background:var(--fd-bg);color:var(--fd-fg);border-color:var(--fd-bg)}
.fd-stars button{font-size:26px;line-height:1;background:none;border:0;cursor:pointer;color:#d1d5db}
.fd-stars button[aria-pressed=true]{color:#d97706}
.fd-rate textarea{border:1px solid #d1d5db;border-radius:8px;padding:8px;font:inherit;min-height:60px}
.fd-btn{border:0;border-radius:8px;padding:8px 14px;background:var(--fd-bg);color:var(--fd-fg);font:inherit;cursor:pointer;text-align:start;text-decoration:none;display:block}
.fd-btn.fd-alt{background:#f3f4f6;color:#111827}
.fd-brand{font-size:11px;color:#6b7280;text-align:center;padding:0 0 6px}
.fd-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (prefers-reduced-motion: reduce){.fd-panel,.fd-dots i{animation:none!important}}
`;
