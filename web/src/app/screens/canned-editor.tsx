// Managing canned responses (owners and admins): the replies agents pick with `/` in the reply box.
import { useState } from 'preact/hooks';
import { describeError } from '../api';
import { useWorkspace } from '../context';
import { ErrorBox, Field } from '../ui/common';
import { useLoad } from '../ui/hooks';

export function CannedEditor() {
  const ws = useWorkspace();
  const list = useLoad(() => ws.api.canned().then((r) => r.canned_responses), [ws.api]);
  const [shortcut, setShortcut] = useState('');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [error, setError] = useState<string | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await ws.api.createCanned({ shortcut: shortcut.trim().replace(/^\//, ''), title: title.trim(), body });
      setShortcut('');
      setTitle('');
      setBody('');
      await list.reload();
      ws.reloadCanned();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const remove = async (id: string) => {
    try {
      await ws.api.deleteCanned(id);
      await list.reload();
      ws.reloadCanned();
    } catch (err) {
      ws.toast({ text: describeError(err), kind: 'error' });
    }
  };
  return (
    <section aria-labelledby="canned-title">
      <h2 id="canned-title">Canned responses</h2>
      <p class="hint">Agents type / and the shortcut in the reply box to insert one.</p>
      <ErrorBox message={list.error} />
      {(list.data ?? []).length > 0 && (
        <table class="table compact">
          <thead>
            <tr>
              <th scope="col">Shortcut</th>
              <th scope="col">Title</th>
              <th scope="col">Text</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((c) => (
              <tr key={c.id}>
                <td>
                  <code>/{c.shortcut.replace(/^\//, '')}</code>
                </td>
                <td>{c.title}</td>
                <td class="details">{c.body}</td>
                <td>
                  <button type="button" class="btn small danger" aria-label={`Delete /${c.shortcut}`} onClick={() => void remove(c.id)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="stack panel" onSubmit={add} aria-label="Add a canned response">
        <div class="grid-2">
          <Field label="Shortcut">
            <input required pattern="/?[\w.\-]+" value={shortcut} onInput={(e) => setShortcut(e.currentTarget.value)} placeholder="refund" />
          </Field>
          <Field label="Title">
            <input required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          </Field>
          <Field label="Text (Markdown)" wide>
            <textarea required rows={3} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
          </Field>
        </div>
        <ErrorBox message={error} />
        <div>
          <button class="btn primary" type="submit">
            Add canned response
          </button>
        </div>
      </form>
    </section>
  );
}
