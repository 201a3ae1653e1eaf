// The dashboard API's shapes (see the dashboard contract). Only what the app reads is typed.

export type Role = 'owner' | 'admin' | 'member';
export type ConversationStatus = 'active' | 'escalated' | 'resolved' | 'closed';
export type AuthorKind = 'visitor' | 'assistant' | 'bot' | 'agent' | 'system';

export interface User {
  id: string;
  email: string;
  name: string;
  created_at: string;
}

export interface Membership {
  org_id: string;
  org_name: string;
  role: Role;
}

export interface Me {
  user: User;
  memberships: Membership[];
}

export interface LoginSession {
  id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

export interface TotpStatus {
  enabled: boolean;
  pending: boolean;
}

export interface TotpSetup {
  secret: string;
  otpauth_uri: string;
}

export interface Entitlements {
  seats: number | null;
  remove_branding: boolean;
  full_customization: boolean;
  audit_export: boolean;
}

export interface OrgInfo {
  org: { id: string; name: string; plan: 'free' | 'pro'; extra_seats: number; created_at: string };
  role: Role;
  entitlements: Entitlements;
  seats_used: number;
  /** The paid subscription (Paddle), when the organization has or had one. */
  subscription?: { status: string; past_due: boolean } | null;
}

export interface Conversation {
  id: string;
  org_id: string;
  site_id: string;
  visitor_id: string;
  status: ConversationStatus;
  assignee_id: string | null;
  page_url: string | null;
  locale: string | null;
  params: Record<string, unknown>;
  last_seq: number;
  created_at: string;
  updated_at: string;
  last_activity_at: string;
  status_changed_at: string;
  escalated_at: string | null;
  first_agent_reply_at: string | null;
}

export interface InboxItem extends Conversation {
  visitor_name: string | null;
  visitor_email: string | null;
  last_message: { author_kind: AuthorKind; body: string; created_at: string } | null;
  unread: number;
  rating: number | null;
}

export interface Summary {
  escalated: number;
  unassigned: number;
  mine: number;
  unread_conversations: number;
}

export interface Citation {
  article_id: string;
  title: string;
  url: string | null;
}

export interface Message {
  id: string;
  conversation_id: string;
  seq: number;
  author_kind: AuthorKind;
  author_id: string | null;
  body: string;
  html: string;
  citations: Citation[];
  quick_replies: string[];
  reaction: 'up' | 'down' | null;
  created_at: string;
}

export interface Note {
  id: string;
  org_id: string;
  conversation_id: string;
  author_id: string;
  body: string;
  html: string;
  mentions: string[];
  created_at: string;
}

export interface Visitor {
  id: string;
  site_id: string;
  name: string | null;
  email: string | null;
  locale: string | null;
  /** The site's own id for this person (the widget's `identify`). */
  user_id?: string | null;
  /** Whether `user_id` came with a valid HMAC of the site's secret. */
  verified?: boolean;
  created_at: string;
  last_seen_at: string;
  /** Set once the visitor's data was erased (GDPR). */
  erased_at?: string | null;
}

export interface Rating {
  conversation_id: string;
  stars: number;
  tags: string[];
  feedback: string | null;
  created_at: string;
}

export interface ConversationDetail {
  conversation: Conversation;
  messages: Message[];
  visitor: Visitor | null;
  rating: Rating | null;
  notes: Note[];
  /** The bot scenario run of this conversation, when it has one. */
  flow?: ConversationFlow | null;
}

export interface VisitorEvent {
  id: string;
  kind: 'page_view' | 'conversion';
  url: string | null;
  title: string | null;
  referrer: string | null;
  name: string | null;
  props: Record<string, unknown>;
  created_at: string;
}

export interface VisitorProfile {
  visitor: Visitor | null;
  events: VisitorEvent[];
  conversations: Conversation[];
  params: Record<string, unknown>;
  interests: string[];
  session_count: number;
  conversions: number;
}

export interface CannedResponse {
  id: string;
  shortcut: string;
  title: string;
  body: string;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  notify: NotifyPrefs;
  created_at: string;
}

export interface NotifyPrefs {
  email_escalations: boolean;
  email_mentions: boolean;
}

export interface Invite {
  id: string;
  email: string;
  role: Role;
  invited_by: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
}

export interface Team {
  members: Member[];
  invites: Invite[];
  seats: { used: number; limit: number | null };
}

export interface PublicInvite {
  org_name: string;
  email: string;
  role: Role;
  expires_at: string;
  existing_user: boolean;
}

export interface SuggestionRule {
  id: string;
  url_pattern: string;
  message: string;
  triggers: { seconds_on_page?: number; scroll_percent?: number; selector_visible?: string };
}

export interface Channel {
  kind: string;
  label: string;
  url: string;
}

export interface WidgetConfig {
  title: string;
  primary_color: string;
  position: 'bottom_right' | 'bottom_left';
  welcome_heading: string;
  welcome_subheading: string;
  greeting: string;
  language: string;
  quick_replies: string[];
  suggestions: SuggestionRule[];
  channels: Channel[];
  show_branding: boolean;
}

export type Provider = { kind: 'extractive' } | { kind: 'openai'; base_url: string; model: string; api_key: string };

export interface AssistantSettings {
  enabled: boolean;
  system_prompt: string;
  provider: Provider;
  temperature: number;
  max_tokens: number;
  welcome_message: string;
  escalation_keywords: string[];
  low_confidence: 'offer_person' | 'escalate';
}

export interface Site {
  id: string;
  org_id: string;
  name: string;
  public_key: string;
  allowed_origins: string[];
  widget: WidgetConfig;
  widget_draft: WidgetConfig | null;
  assistant: AssistantSettings;
  previous_public_key: string | null;
  previous_key_expires_at: string | null;
  /** `identify` is refused without a valid `user_hash`. */
  require_verified_identity?: boolean;
  /** Conversations idle this many days are deleted automatically; `null` keeps everything. */
  retention_days?: number | null;
  created_at: string;
  updated_at: string;
}

export interface Article {
  id: string;
  site_id: string;
  title: string;
  body: string;
  locale: string;
  tags: string[];
  status: 'draft' | 'published';
  external_key: string | null;
  created_at: string;
  updated_at: string;
  published_at: string | null;
}

export interface UnansweredGroup {
  question: string;
  count: number;
  last_asked_at: string;
  site_id: string;
  questions: { question: string; conversation_id: string; created_at: string }[];
}

export interface DayStats {
  date: string;
  conversations: number;
  ai_resolved: number;
  escalated: number;
  thumbs_up: number;
  thumbs_down: number;
}

export interface Report {
  from: string;
  to: string;
  conversations: number;
  ai_resolved: number;
  escalated: number;
  ai_resolved_share: number;
  escalated_share: number;
  first_response_median_ms: number | null;
  first_response_p90_ms: number | null;
  ratings: number;
  average_rating: number | null;
  rating_distribution: number[];
  days: DayStats[];
  busiest_hours: number[];
}

export interface Insights {
  top_pages: { url: string; title: string | null; views: number; visitors: number }[];
  conversions: { name: string; count: number; visitors: number }[];
}

export interface AuditEvent {
  id: string;
  actor_id: string | null;
  action: string;
  target_kind: string;
  target_id: string;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  created_at: string;
}

// --- Bot scenarios (docs/flows.md) ------------------------------------------------------------

export type FlowNodeType = 'message' | 'ask' | 'condition' | 'set' | 'http' | 'ai_answer' | 'handoff' | 'wait' | 'jump' | 'end';
export type AskInput = 'text' | 'email' | 'phone' | 'number' | 'date' | 'choice';
export type RuleOp = 'equals' | 'not_equals' | 'contains' | 'matches' | 'greater_than' | 'less_than' | 'is_set' | 'is_not_set';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface FlowPosition {
  x: number;
  y: number;
}

interface FlowNodeBase {
  id: string;
  position: FlowPosition;
  /** Shown by the widget while this node works ("Looking up your order…"). */
  thinking?: string;
}

export interface MessageNode extends FlowNodeBase {
  type: 'message';
  text: string;
  quick_replies: string[];
}

export interface AskChoice {
  id: string;
  label: string;
}

export interface AskNode extends FlowNodeBase {
  type: 'ask';
  input: AskInput;
  prompt: string;
  variable: string;
  retry_message?: string;
  max_retries?: number;
  timeout_secs?: number | null;
  choices?: AskChoice[];
}

export interface ConditionRule {
  left: string;
  op: RuleOp;
  right: string;
}

export interface ConditionGroup {
  match: 'all' | 'any';
  rules: ConditionRule[];
}

export interface ConditionNode extends FlowNodeBase {
  type: 'condition';
  match: 'all' | 'any';
  groups: ConditionGroup[];
}

export type SetValue = { literal: unknown } | { copy: string } | { expr: string };

export interface SetNode extends FlowNodeBase {
  type: 'set';
  variable: string;
  value: SetValue;
}

export interface HttpSave {
  variable: string;
  path: string;
}

export interface HttpNode extends FlowNodeBase {
  type: 'http';
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  timeout_ms?: number;
  status_variable?: string | null;
  save: HttpSave[];
}

export interface AiAnswerNode extends FlowNodeBase {
  type: 'ai_answer';
  question?: string;
}

export interface HandoffNode extends FlowNodeBase {
  type: 'handoff';
  message?: string;
  only_when_online: boolean;
}

export interface WaitNode extends FlowNodeBase {
  type: 'wait';
  seconds: number;
}

export interface JumpNode extends FlowNodeBase {
  type: 'jump';
  target: string;
}

export interface EndNode extends FlowNodeBase {
  type: 'end';
}

export type FlowNode = MessageNode | AskNode | ConditionNode | SetNode | HttpNode | AiAnswerNode | HandoffNode | WaitNode | JumpNode | EndNode;

export interface FlowEdge {
  from: string;
  port: string;
  to: string;
}

export type FlowTrigger =
  | { type: 'conversation_start' }
  | { type: 'keyword'; keywords: string[] }
  | { type: 'pattern'; pattern: string }
  | { type: 'page'; url: string };

export interface FlowVariable {
  name: string;
  default?: unknown;
}

export interface FlowDocument {
  schema: 1;
  start: string;
  triggers: FlowTrigger[];
  variables: FlowVariable[];
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/** A problem in a document: `node` null for document-level ones (a missing `start`). */
export interface FlowError {
  node: string | null;
  field: string | null;
  message: string;
}

/** A scenario in the site's list (no document). */
export interface ScenarioSummary {
  id: string;
  site_id: string;
  name: string;
  published_version: number | null;
  starts_conversations: boolean;
  draft_changed: boolean;
  updated_at: string;
}

export interface Scenario extends ScenarioSummary {
  draft: FlowDocument;
  published_at: string | null;
  created_at: string;
}

export interface SimEvent {
  type: 'start' | 'message' | 'timer';
  text?: string;
}

export interface SimVisitor {
  name?: string;
  email?: string;
  user_id?: string;
  verified?: boolean;
}

export interface SimMessage {
  author: 'bot' | 'assistant' | 'system';
  text: string;
  html?: string | null;
  quick_replies?: string[];
}

export type SimOutcome = 'waiting' | 'finished' | 'handed_off' | 'failed' | 'ended';

export interface SimResult {
  messages: SimMessage[];
  thinking?: string[];
  run: unknown;
  variables?: Record<string, unknown>;
  current_node?: string | null;
  outcome?: SimOutcome;
  due_at?: string | null;
  error?: string | null;
  /** docs/flows.md's shorter form of `outcome`. */
  finished?: boolean;
  handoff?: boolean;
}

/** `flow` of a conversation's detail: the bot run it has (or had). */
export interface ConversationFlow {
  scenario_id: string;
  /** Null when the scenario has been deleted since. */
  scenario_name: string | null;
  version: number;
  variables: Record<string, unknown>;
  current_node: string | null;
  /** `waiting`, `finished`, `handed_off`, `failed` or `ended`. */
  state: string;
  error?: string | null;
}

export type WebhookEventType =
  | 'conversation.created'
  | 'conversation.escalated'
  | 'conversation.resolved'
  | 'conversation.closed'
  | 'conversation.reopened'
  | 'message.created'
  | 'rating.created'
  | 'visitor.identified';

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  event_types: WebhookEventType[];
  enabled: boolean;
  disabled_reason: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDelivery {
  id: string;
  message_id: string;
  endpoint_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  /** The start of the receiver's last answer (at most 1 KiB). */
  last_response: string | null;
  payload: unknown;
  created_at: string;
}

// Privacy (docs/privacy.md): export and erasure of a visitor's data.

/** What an erasure deleted (`conversations`: kept, anonymous). */
export interface ErasureCounts {
  conversations: number;
  messages: number;
  ratings: number;
  visitor_events: number;
  notes: number;
  unanswered_questions: number;
  scenario_runs: number;
  webhook_deliveries: number;
}

export interface EraseResult {
  /** The visitors erased (none when no visitor has the email). */
  visitors: string[];
  counts: ErasureCounts;
}

export interface ExportedConversation {
  conversation: Record<string, unknown>;
  messages: Record<string, unknown>[];
  rating: Record<string, unknown> | null;
  notes: Record<string, unknown>[];
  unanswered_questions: Record<string, unknown>[];
  scenario_run: Record<string, unknown> | null;
}

/** `frontdesk.visitor-export.v1`: everything the organization holds about the visitor(s). */
export interface VisitorExport {
  format: string;
  exported_at: string;
  org_id: string;
  visitors: {
    visitor: Visitor;
    site_name: string;
    events: Record<string, unknown>[];
    conversations: ExportedConversation[];
  }[];
}
