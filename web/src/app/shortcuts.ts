// Keyboard shortcuts of the inbox: which key does what (pure, so it is tested without a browser).

export type ShortcutAction =
  | 'next'
  | 'previous'
  | 'open'
  | 'reply'
  | 'note'
  | 'send'
  | 'resolve'
  | 'take_over'
  | 'search'
  | 'help'
  | 'leave';

export interface KeyPress {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** The key went to a text field (input, textarea, select, contenteditable). */
  inField: boolean;
}

/** The list the `?` dialog shows. */
export const SHORTCUTS: { keys: string; does: string }[] = [
  { keys: 'j / k', does: 'Next / previous conversation' },
  { keys: 'Enter or o', does: 'Open the selected conversation' },
  { keys: 'r', does: 'Reply (focus the reply box)' },
  { keys: 'n', does: 'Write a private note' },
  { keys: 'Ctrl+Enter / ⌘+Enter', does: 'Send' },
  { keys: 'e', does: 'Resolve the conversation' },
  { keys: 'a', does: 'Take over (assign to me)' },
  { keys: '/', does: 'Search' },
  { keys: '?', does: 'Show these shortcuts' },
  { keys: 'Esc', does: 'Leave the text field' },
];

const PLAIN: Record<string, ShortcutAction> = {
  j: 'next',
  k: 'previous',
  Enter: 'open',
  o: 'open',
  r: 'reply',
  n: 'note',
  e: 'resolve',
  a: 'take_over',
  '/': 'search',
  '?': 'help',
};

/** The action of a key press, or null when the key is the user's (typing, browser shortcuts). */
export function shortcutFor(k: KeyPress): ShortcutAction | null {
  if (k.key === 'Enter' && (k.ctrlKey || k.metaKey) && !k.altKey) return 'send';
  if (k.key === 'Escape') return k.inField ? 'leave' : null;
  if (k.inField || k.ctrlKey || k.metaKey || k.altKey) return null;
  return PLAIN[k.key] ?? null;
}

export function isTextField(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
  if (tag !== 'input') return false;
  const type = ((el as HTMLInputElement).type || 'text').toLowerCase();
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(type);
}

/** The index after moving `delta` in a list of `length` (clamped; -1 when the list is empty). */
export function moveSelection(index: number, delta: number, length: number): number {
  if (length <= 0) return -1;
  if (index < 0) return delta > 0 ? 0 : length - 1;
  return Math.max(0, Math.min(length - 1, index + delta));
}
