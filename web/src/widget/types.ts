import type { Emitter } from './queue';
import type { Locale } from './i18n';

/** What a host page sets in `window.FrontdeskConfig` (or a `<script type="application/json" id="frontdesk-config">`). */
export interface FrontdeskConfig {
  apiUrl?: string;
  apiKey: string;
  primaryColor?: string;
  position?: string;
  mode?: 'launcher' | 'frame';
  container?: string;
  locale?: string;
  params?: Record<string, unknown>;
  tracking?: boolean;
  nonce?: string;
  /** The dashboard's preview: configuration by postMessage, no API calls, sending disabled. */
  preview?: boolean;
}

export interface Channel {
  kind: string;
  label: string;
  url: string;
}

/** `GET /api/chat/config`. */
export interface ServerConfig {
  site_name?: string;
  /** The site has a start scenario: opening the panel starts the conversation (the bot greets). */
  greets?: boolean;
  widget?: {
    title?: string;
    primary_color?: string;
    position?: string;
    welcome_heading?: string;
    welcome_subheading?: string;
    greeting?: string;
    language?: string;
    quick_replies?: string[];
    channels?: Channel[];
    show_branding?: boolean;
  };
}

/** `identify`'s fields, as `POST /api/chat/identify` takes them. */
export interface Identity {
  name?: string;
  email?: string;
  user_id?: string;
  user_hash?: string;
}

/** What the loader hands to the panel chunk. */
export interface WidgetContext {
  config: FrontdeskConfig;
  apiUrl: string;
  server: ServerConfig;
  locale: Locale;
  root: ShadowRoot;
  /** Where the panel goes (the shadow root's container element). */
  mount: HTMLElement;
  frame: boolean;
  launcher: HTMLButtonElement | null;
  events: Emitter;
  params: Record<string, unknown>;
  identity: Identity;
  colors: { bg: string; fg: string };
  onClose: () => void;
  setUnread: (n: number) => void;
  /** Sends the identity for the current session (`POST /api/chat/identify`), once per change. */
  sendIdentity: (session: { session_id?: string; session_token?: string }) => void;
}

export interface Panel {
  open(): void;
  close(): void;
  isOpen(): boolean;
  destroy(): void;
}

export type PanelFactory = (ctx: WidgetContext) => Panel;
