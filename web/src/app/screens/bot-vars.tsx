// A conversation's bot run: which scenario (and version), where it is, what it collected.
// Fed by the conversation's detail (`flow`); nothing shows when the conversation has no run.
import { Fragment } from 'preact';
import { showValue } from '../flow-model';
import type { ConversationFlow } from '../types';

const STATE: Record<string, string> = {
  running: 'running',
  waiting: 'waiting for the visitor',
  finished: 'finished',
  handed_off: 'handed off',
  failed: 'failed',
  ended: 'ended',
};

export function BotFlowPanel({ flow }: { flow: ConversationFlow | null | undefined }) {
  if (!flow) return null;
  const vars = Object.entries(flow.variables ?? {});
  return (
    <details class="bot-flow" aria-label="Bot variables">
      <summary>
        Bot variables{' '}
        <span class="muted">
          · {flow.scenario_name ?? 'A deleted scenario'} v{flow.version} · {STATE[flow.state] ?? flow.state}
          {flow.current_node ? ` at ${flow.current_node}` : ''}
        </span>
      </summary>
      {flow.error && <p class="error small">{flow.error}</p>}
      {vars.length === 0 ? (
        <p class="muted small">Nothing collected yet.</p>
      ) : (
        <dl class="facts">
          {vars.map(([k, v]) => (
            <Fragment key={k}>
              <dt class="mono">{k}</dt>
              <dd>{showValue(v)}</dd>
            </Fragment>
          ))}
        </dl>
      )}
      {flow.scenario_name !== null && (
        <p class="small">
          <a href={`#/bots/${encodeURIComponent(flow.scenario_id)}`}>Open the scenario</a>
        </p>
      )}
    </details>
  );
}
