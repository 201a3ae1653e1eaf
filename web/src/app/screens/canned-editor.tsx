// Managing canned responses (owners and admins): the replies agents pick with `/` in the reply box.
import { useRef, useState } from 'preact/hooks';
import { describeError } from '../api';
import { cannedInput } from '../canned';
import { useWorkspace } from '../context';
import { ErrorBox, Field } from '../ui/common';
import type { CannedResponse } from '../types';
import { useLoad } from '../ui/hooks';

export function CannedEditor() {
  const ws = useWorkspace();
  const list = useLoad(() => ws.api.canned().then((r) => r.canned_responses), [ws.api]);
  const [shortcut, setShortcut] = useState('');
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [error, setError] = useState<string | null>(null);
  /** The response being edited (the form saves it), or null (the form adds one). */
  const [editing, setEditing] = useState<CannedResponse | null>(null);
  const firstField = useRef<HTMLInputElement>(null);
  const fill = (c: CannedResponse | null) => {
    setEditing(c);
    setShortcut(c ? c.shortcut.replace(/^\//, '') : '');
    setTitle(c?.title ?? '');
    setBody(c?.body ?? '');
    setError(null);
  };
  const edit = (c: CannedResponse) => {
    fill(c);
    firstField.current?.focus();
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const input = cannedInput(shortcut, title, body);
    try {
      if (editing) await ws.api.updateCanned(editing.id, input);
      else await ws.api.createCanned(input);
      ws.toast({ text: editing ? `/${input.shortcut} saved` : `/${input.shortcut} added`, kind: 'success' });
      fill(null);
      await list.reload();
      ws.reloadCanned();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const remove = async (id: string) => {
    try {
      await ws.api.deleteCanned(id);
      if (editing?.id === id) fill(null);
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
                  <div class="row">
                  <button type="button" class="btn small" aria-label={`Edit /${c.shortcut.replace(/^\//, '')}`} onClick={() => edit(c)}>
                    Edit
                  </button>
                  <button type="button" class="btn small danger" aria-label={`Delete /${c.shortcut}`} onClick={() => void remove(c.id)}>
                    Delete
                  </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="stack panel" onSubmit={submit} aria-label={editing ? `Edit /${editing.shortcut.replace(/^\//, '')}` : 'Add a canned response'}>
        {editing && <p class="hint">Editing /{editing.shortcut.replace(/^\//, '')}</p>}
        <div class="grid-2">
          <Field label="Shortcut">
            <input ref={firstField} required pattern="/?[\w.\-]+" value={shortcut} onInput={(e) => setShortcut(e.currentTarget.value)} placeholder="refund" />
          </Field>
          <Field label="Title">
            <input required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          </Field>
          <Field label="Text (Markdown)" wide>
            <textarea required rows={3} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
          </Field>
        </div>
        <ErrorBox message={error} />
        <div class="row">
          <button class="btn primary" type="submit">
            {editing ? 'Save changes' : 'Add canned response'}
          </button>
          {editing && (
            <button type="button" class="btn" onClick={() => fill(null)}>
              Cancel
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
