/**
 * An emulator of the parts of Asana's REST API 1.0 this service uses, after Asana's public docs:
 * tasks (get with opt_fields dotted paths, create, update, delete, list by project or by
 * modified_since with limit/offset pagination), users, projects, webhooks (create with the
 * X-Hook-Secret handshake, list, get, update, delete; filters honoured), batched signed deliveries
 * with retries and heartbeats, the deletion of a webhook whose deliveries keep failing, the
 * per-minute rate limit with Retry-After, and Asana's error envelope.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import type { WebhookFilter } from '../rows/webhook-filters';
import { EmulatorServer, pageToken, post, parseJson, Router, SlidingWindow, sleep, type Request, type Response } from './http';

export interface EmulatedUser {
  gid: string;
  name: string;
  email: string;
}

export interface EmulatedSection {
  gid: string;
  name: string;
}

export interface EmulatedProject {
  gid: string;
  name: string;
  workspace: string;
  /** A new project has one section; a task added to the project lands in the first. */
  sections: EmulatedSection[];
  /** The gids of the custom fields added to the project (its custom_field_settings). */
  customFields: string[];
}

/** A custom field's definition; enum options have gids, as Asana's do. */
export interface EmulatedCustomField {
  gid: string;
  name: string;
  resource_subtype: 'text' | 'number' | 'enum' | 'multi_enum' | 'date' | 'people';
  precision: number;
  enum_options: { gid: string; name: string; enabled: boolean; color: string }[];
}

/** A task's value of a custom field: text, a number, an option name, option names, a date (YYYY-MM-DD), or user gids (people). */
export type CustomFieldInput = string | number | string[] | null;

export interface EmulatedTask {
  gid: string;
  name: string;
  notes: string;
  assignee: string | null;
  due_on: string | null;
  due_at: string | null;
  completed: boolean;
  completed_at: string | null;
  start_on: string | null;
  /** Tag names. */
  tags: string[];
  /** The parent task's gid, for a subtask. */
  parent: string | null;
  resource_subtype: 'default_task' | 'milestone' | 'approval';
  projects: string[];
  /** Project gid → the gid of the task's section in it; the project's first section when absent. */
  sections: Record<string, string>;
  /** Custom field gid → the task's value. */
  custom_fields: Record<string, CustomFieldInput>;
  created_at: string;
  modified_at: string;
}

export type TaskInput = Partial<Omit<EmulatedTask, 'gid' | 'created_at' | 'modified_at' | 'completed_at'>>;

/** The actions the spec names for an event, and so for a filter. */
const EVENT_ACTIONS = ['added', 'changed', 'removed', 'deleted', 'undeleted'];

export interface AsanaEvent {
  user: { gid: string; resource_type: 'user' } | null;
  created_at: string;
  action: 'added' | 'changed' | 'removed' | 'deleted' | 'undeleted';
  resource: { gid: string; resource_type: string; resource_subtype?: string };
  parent?: { gid: string; resource_type: string } | null;
  change?: { field: string; action: string } | null;
}

/** A webhook as Asana holds it, its secret included. */
export interface EmulatedWebhook {
  gid: string;
  resource: string;
  target: string;
  filters: WebhookFilter[];
  secret: string;
  active: boolean;
  created_at: string;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_failure_content: string;
  /** Failed attempts since the last success (the spec: resets after a successful attempt). */
  delivery_retry_count: number;
  /** When the next retry of a failed delivery goes out. */
  next_attempt_after: string | null;
  /** When Asana deletes the webhook unless a delivery succeeds before: set by the first failure after a success. */
  failure_deletion_timestamp: string | null;
}

interface Webhook extends EmulatedWebhook {
  pending: AsanaEvent[];
  flushTimer?: NodeJS.Timeout;
  deletionTimer?: NodeJS.Timeout;
}

export interface AsanaEmulatorOptions {
  token?: string;
  /** Requests per minute per token: 150 on free plans, 1,500 on paid ones. */
  rateLimitPerMinute?: number;
  /** How long events gather into one delivery. */
  deliveryBatchMs?: number;
  /** Events in one delivery at most. */
  deliveryBatchSize?: number;
  /** A delivery not answered within this is a failure (Asana: 10 s). */
  deliveryTimeoutMs?: number;
  /** First retry delay; doubles each attempt (Asana retries for 24 h). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Attempts per delivery before giving up (a bound for tests; Asana's bound is 24 h). */
  maxDeliveryAttempts?: number;
  /** A webhook whose deliveries fail for this long, with no success between, is deleted (Asana: 24 h). */
  failureDeletionMs?: number;
  /** Real Asana refuses localhost targets; the emulator allows them unless told otherwise. */
  refuseLocalhostTargets?: boolean;
  /**
   * Events a new task causes, the first this many of: `added` (parent: the project), `added`
   * (parent: its section), then `changed` of assignee, due_on and notes, as Asana sends them for a
   * task created and filled in. Default 3.
   */
  newTaskEvents?: number;
  /** The order task lists come in: the project's own (oldest first), or newest first. */
  listOrder?: 'project' | 'newest-first';
}

/** The `changed` events that follow a new task's `added` events, in order. */
const NEW_TASK_FIELDS = ['assignee', 'due_on', 'notes'];
/** Deliveries started between two turns of the event loop (flush). */
const SEND_CHUNK = 50;

export interface DeliveryRecord {
  webhookGid: string;
  events: number;
  /** The gids of the resources its events are about, in order. */
  resources: string[];
  /** When the delivery was sent (`at` is when its answer came). */
  sentAt: number;
  status: number | 'timeout' | 'error';
  attempt: number;
  at: number;
}

/** Gids start at a random point, so emulators sharing one Temporal server never share workflow ids. */
const randomGidStart = (): bigint => 1_000_000_000_000_000n + BigInt(randomInt(0, 2 ** 47)) * 1000n;

function errors(status: number, message: string, headers?: Record<string, string>): Response {
  const help =
    'For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors';
  const body = { errors: [{ message, help, ...(status >= 500 ? { phrase: 'six sad squid snuggle softly' } : {}) }] };
  return { status, body, headers };
}

const isoNow = (): string => new Date().toISOString();

export function signDelivery(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** A delivery body of `maxBytes` at most, every event an `added` of a task of its own, gids from `firstGid` up: a flood. */
export function floodDelivery(firstGid: number, maxBytes: number): string {
  const events: string[] = [];
  let size = '{"events":[]}'.length;
  for (let gid = firstGid; ; gid += 1) {
    const event = `{"action":"added","resource":{"gid":"${gid}","resource_type":"task"}}`;
    if (size + event.length + 1 > maxBytes) break;
    events.push(event);
    size += event.length + 1;
  }
  return `{"events":[${events.join(',')}]}`;
}

export class AsanaEmulator extends EmulatorServer {
  readonly token: string;
  private readonly users = new Map<string, EmulatedUser>();
  private readonly projects = new Map<string, EmulatedProject>();
  private readonly tasks = new Map<string, EmulatedTask>();
  /** Parent gid → its subtasks' gids, oldest first: counting a task's subtasks must not scan every task. */
  private readonly subtaskGids = new Map<string, Set<string>>();
  private readonly webhooks = new Map<string, Webhook>();
  private readonly customFields = new Map<string, EmulatedCustomField>();
  /** Tag name → its gid. */
  private readonly tagGids = new Map<string, string>();
  readonly deliveries: DeliveryRecord[] = [];
  /** Deliveries and handshakes share kept-alive connections, as a real sender's pool would. */
  private readonly agent = new http.Agent({ keepAlive: true });
  /** Set to an array to record the events of every delivery sent. */
  deliveredEvents?: AsanaEvent[][];
  readonly workspaceGid: string;
  /** The user the token belongs to ("me"): events name them as the one who made each change. */
  readonly me: EmulatedUser;
  rateLimited = 0;
  /** Events a webhook's filters kept from it: Asana sends them nowhere. */
  filteredEvents = 0;
  private nextGid = randomGidStart();
  private readonly window = new SlidingWindow(60_000);
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly options: Required<AsanaEmulatorOptions>;
  protected readonly router = new Router();

  constructor(options: AsanaEmulatorOptions = {}) {
    super();
    this.options = {
      token: 'asana-sandbox-token',
      rateLimitPerMinute: 1500,
      deliveryBatchMs: 20,
      deliveryBatchSize: 100,
      deliveryTimeoutMs: 10_000,
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
      maxDeliveryAttempts: 10,
      failureDeletionMs: 24 * 60 * 60_000,
      refuseLocalhostTargets: false,
      newTaskEvents: 3,
      listOrder: 'project',
      ...options,
    };
    this.token = this.options.token;
    this.workspaceGid = this.gid();
    this.me = this.addUser('Emulator API User');
    this.router
      .add('GET', '/api/1.0/tasks/:gid', (r) => this.getTask(r))
      .add('GET', '/api/1.0/tasks/:gid/subtasks', (r) => this.subtasks(r))
      .add('PUT', '/api/1.0/tasks/:gid', (r) => this.putTask(r))
      .add('DELETE', '/api/1.0/tasks/:gid', (r) => this.deleteTaskRoute(r))
      .add('POST', '/api/1.0/tasks', (r) => this.postTask(r))
      .add('GET', '/api/1.0/tasks', (r) => this.searchTasks(r))
      .add('GET', '/api/1.0/projects/:gid/tasks', (r) => this.projectTasks(r))
      .add('GET', '/api/1.0/projects/:gid', (r) => this.getProject(r))
      .add('GET', '/api/1.0/projects/:gid/custom_field_settings', (r) => this.customFieldSettings(r))
      .add('GET', '/api/1.0/users/:gid', (r) => this.getUser(r))
      .add('POST', '/api/1.0/webhooks', (r) => this.createWebhook(r))
      .add('GET', '/api/1.0/webhooks', (r) => this.listWebhooks(r))
      .add('GET', '/api/1.0/webhooks/:gid', (r) => this.getWebhook(r))
      .add('PUT', '/api/1.0/webhooks/:gid', (r) => this.updateWebhook(r))
      .add('DELETE', '/api/1.0/webhooks/:gid', (r) => this.deleteWebhook(r));
  }

  /** A task as the API renders it in full (no opt_fields): what a test expects the service to have read. */
  taskRecord(gid: string): Record<string, unknown> {
    return this.render(this.mustFind(gid), new URLSearchParams());
  }

  /** Changes how the emulator delivers events and lists tasks from now on (a bench varies them). */
  configure(options: Pick<AsanaEmulatorOptions, 'newTaskEvents' | 'deliveryBatchSize' | 'deliveryBatchMs' | 'listOrder'>): void {
    Object.assign(this.options, options);
  }

  /** Base URL for ASANA_BASE_URL. */
  get baseUrl(): string {
    return `${this.url}/api/1.0`;
  }

  // ---- data set-up and changes, as a person in Asana's UI would make them ----

  addUser(name: string, email = `${name.toLowerCase().replace(/\W+/g, '.')}@example.com`): EmulatedUser {
    const user = { gid: this.gid(), name, email };
    this.users.set(user.gid, user);
    return user;
  }

  addProject(name: string): EmulatedProject {
    const project = {
      gid: this.gid(),
      name,
      workspace: this.workspaceGid,
      sections: [{ gid: this.gid(), name: 'To do' }],
      customFields: [],
    };
    this.projects.set(project.gid, project);
    return project;
  }

  /** Adds a section to a project, after its others. */
  addSection(projectGid: string, name: string): EmulatedSection {
    const section = { gid: this.gid(), name };
    this.mustFindProject(projectGid).sections.push(section);
    return section;
  }

  /** Adds a custom field to a project (with its enum options, for enum and multi_enum); a copy. */
  addCustomField(
    projectGid: string,
    field: { name: string; resource_subtype: EmulatedCustomField['resource_subtype']; precision?: number; options?: string[] },
  ): EmulatedCustomField {
    const created: EmulatedCustomField = {
      gid: this.gid(),
      name: field.name,
      resource_subtype: field.resource_subtype,
      precision: field.precision ?? 0,
      enum_options: (field.options ?? []).map((name) => ({ gid: this.gid(), name, enabled: true, color: 'blue' })),
    };
    this.customFields.set(created.gid, created);
    this.mustFindProject(projectGid).customFields.push(created.gid);
    return structuredClone(created);
  }

  /** Moves a task to another section of a project: Asana sends `removed` and `added` with the sections as parents. */
  moveToSection(taskGid: string, projectGid: string, sectionGid: string): void {
    const task = this.mustFind(taskGid);
    const from = this.sectionOf(task, projectGid);
    const section = this.mustFindProject(projectGid).sections.find((s) => s.gid === sectionGid);
    if (!section || !from) throw new Error(`no section ${sectionGid} in project ${projectGid} of task ${taskGid}`);
    this.change(taskGid, { sections: { ...task.sections, [projectGid]: sectionGid } });
    this.emit(task, 'removed', { gid: from.gid, resource_type: 'section' });
    this.emit(task, 'added', { gid: section.gid, resource_type: 'section' });
  }

  /** Creates a task in a project; webhooks on the project hear the events `newTaskEvents` says. */
  createTask(projectGid: string, input: TaskInput = {}): EmulatedTask {
    const task = this.newTask({ ...input, projects: [projectGid, ...(input.projects ?? []).filter((p) => p !== projectGid)] });
    for (const project of task.projects) {
      const section = this.projects.get(project)?.sections[0];
      this.announce(task, [
        { gid: project, resource_type: 'project' },
        ...(section ? [{ gid: section.gid, resource_type: 'section' }] : []),
      ]);
    }
    return task;
  }

  /**
   * Creates a subtask, in no project unless `input.projects` names some. Its events bubble up to
   * the webhooks of its parent's projects, as Asana's do: `added` with the parent task as parent,
   * then the `changed` events of a new task (`newTaskEvents` of them in all).
   */
  createSubtask(parentGid: string, input: TaskInput = {}): EmulatedTask {
    this.mustFind(parentGid);
    const task = this.newTask({ ...input, parent: parentGid, projects: input.projects ?? [] });
    this.announce(task, [{ gid: parentGid, resource_type: 'task' }]);
    return task;
  }

  /** Adds a task to a project (its first section): Asana sends `added` with the project, then the section, as parent. */
  addToProject(taskGid: string, projectGid: string): void {
    const task = this.mustFind(taskGid);
    const section = this.mustFindProject(projectGid).sections[0];
    this.change(taskGid, { projects: [...task.projects.filter((p) => p !== projectGid), projectGid] });
    this.emit(task, 'added', { gid: projectGid, resource_type: 'project' });
    this.emit(task, 'added', { gid: section.gid, resource_type: 'section' });
  }

  /** Removes a task from a project: the project's webhooks hear `removed` with its section, then the project, as parent. */
  removeFromProject(taskGid: string, projectGid: string): void {
    const task = this.mustFind(taskGid);
    const section = this.sectionOf(task, projectGid);
    if (!task.projects.includes(projectGid) || !section) throw new Error(`task ${taskGid} is not in project ${projectGid}`);
    this.change(taskGid, {}); // the removal's modified_at, which its events carry
    // Emitted while the task is still in the project, so the project's webhooks hear them.
    this.emit(task, 'removed', { gid: section.gid, resource_type: 'section' });
    this.emit(task, 'removed', { gid: projectGid, resource_type: 'project' });
    delete task.sections[projectGid];
    task.projects = task.projects.filter((p) => p !== projectGid);
  }

  /** A new task's record, stored; its events are the caller's to emit. */
  private newTask(input: TaskInput): EmulatedTask {
    const now = isoNow();
    const task: EmulatedTask = {
      name: '',
      notes: '',
      assignee: null,
      due_on: null,
      due_at: null,
      completed: false,
      start_on: null,
      tags: [],
      parent: null,
      sections: {},
      custom_fields: {},
      resource_subtype: 'default_task',
      ...input,
      completed_at: input.completed ? now : null,
      projects: input.projects ?? [],
      gid: this.gid(),
      created_at: now,
      modified_at: now,
    };
    if (task.due_at && !input.due_on) task.due_on = task.due_at.slice(0, 10);
    this.tasks.set(task.gid, task);
    this.fileSubtask(task.gid, null, task.parent);
    return task;
  }

  /** Moves a task in subtaskGids from under one parent to under another (null: none), as it is created, re-parented or deleted. */
  private fileSubtask(gid: string, from: string | null, to: string | null): void {
    if (from !== null) this.subtaskGids.get(from)?.delete(gid);
    if (to !== null) (this.subtaskGids.get(to) ?? this.subtaskGids.set(to, new Set()).get(to)!).add(gid);
  }

  /** A new task's events: `added` with each of these parents, then `changed` of its fields; the first `newTaskEvents` of them. */
  private announce(task: EmulatedTask, parents: NonNullable<AsanaEvent['parent']>[]): void {
    const events = [
      ...parents.map((parent) => () => this.emit(task, 'added', parent)),
      ...NEW_TASK_FIELDS.map((field) => () => this.emit(task, 'changed', null, { field, action: 'changed' })),
    ];
    events.slice(0, this.options.newTaskEvents).forEach((emit) => emit());
  }

  updateTask(gid: string, changes: TaskInput): EmulatedTask {
    const task = this.change(gid, changes);
    for (const field of Object.keys(changes)) this.emit(task, 'changed', null, { field, action: 'changed' });
    return task;
  }

  /** Changes a task as `updateTask` does, but its events never reach a webhook: only a read of the task shows the change. */
  editTaskSilently(gid: string, changes: TaskInput): EmulatedTask {
    return copyTask(this.change(gid, changes));
  }

  deleteTask(gid: string): void {
    const task = this.mustFind(gid);
    this.tasks.delete(gid);
    this.fileSubtask(gid, task.parent, null);
    this.emit(task, 'deleted', null);
  }

  /** Asana drops a webhook without telling its owner: from now on nothing is delivered to it. */
  dropWebhook(gid: string): void {
    const webhook = this.webhooks.get(gid);
    if (!webhook) throw new Error(`no webhook ${gid}`);
    this.forget(webhook);
  }

  /** Asana lists a webhook as inactive (`active: false`) and sends it nothing more. */
  deactivateWebhook(gid: string): void {
    const webhook = this.webhooks.get(gid);
    if (!webhook) throw new Error(`no webhook ${gid}`);
    webhook.active = false;
  }

  /** Sends a delivery to a webhook's target as Asana would (signed), bypassing the event queue. */
  async deliver(webhookGid: string, events: AsanaEvent[]): Promise<number | 'timeout' | 'error'> {
    const webhook = this.webhooks.get(webhookGid);
    if (!webhook) throw new Error(`no webhook ${webhookGid}`);
    return this.post(webhook, events, 1);
  }

  /** Resolves once no delivery is queued or in flight. */
  async drainDeliveries(): Promise<void> {
    while (this.inFlight.size > 0 || [...this.webhooks.values()].some((w) => w.pending.length > 0)) {
      await Promise.all([...this.inFlight]);
      await sleep(this.options.deliveryBatchMs + 5);
    }
  }

  override async close(): Promise<void> {
    this.closed = true;
    for (const webhook of this.webhooks.values()) this.stopTimers(webhook);
    this.agent.destroy();
    await super.close();
  }

  // ---- inspection: copies of what Asana holds, for assertions ----

  /** A task as Asana holds it now, or undefined once deleted: what a row should show. */
  task(gid: string): EmulatedTask | undefined {
    const task = this.tasks.get(gid);
    return task && copyTask(task);
  }

  /** The tasks Asana holds now (of one project, if given), oldest first. */
  taskList(projectGid?: string): EmulatedTask[] {
    return [...this.tasks.values()].filter((t) => projectGid === undefined || t.projects.includes(projectGid)).map(copyTask);
  }

  /** A user by gid: the name a row's Assignee should show. */
  user(gid: string): EmulatedUser | undefined {
    const user = this.users.get(gid);
    return user && { ...user };
  }

  /** A webhook as Asana holds it, or undefined once deleted; with its secret, to sign deliveries as Asana would. */
  webhook(gid: string): EmulatedWebhook | undefined {
    const webhook = this.webhooks.get(gid);
    return webhook && copyWebhook(webhook);
  }

  /** The webhooks Asana holds now, oldest first, secrets included. */
  webhookList(): EmulatedWebhook[] {
    return [...this.webhooks.values()].map(copyWebhook);
  }

  // ---- HTTP ----

  protected admit(req: Request): Response | undefined {
    if (req.headers.authorization !== `Bearer ${this.token}`) return errors(401, 'Not Authorized');
    const count = this.window.hit();
    if (count > this.options.rateLimitPerMinute) {
      this.rateLimited += 1;
      const retryAfter = Math.max(1, Math.ceil(this.window.msUntilSlot() / 1000));
      return errors(429, 'You have made too many requests recently. Please, be chill.', { 'retry-after': String(retryAfter) });
    }
    return undefined;
  }

  protected notFound(req: Request): Response {
    return errors(404, `No matching route for request: ${req.method} ${req.path}`);
  }

  private getTask(req: Request): Response {
    const task = this.tasks.get(req.params.gid);
    if (!task) return errors(404, `task: Unknown object: ${req.params.gid}`);
    return { status: 200, body: { data: this.render(task, req.query) } };
  }

  private postTask(req: Request): Response {
    const input = this.taskInput(req);
    if (typeof input === 'string') return errors(400, input);
    const project = input.projects?.[0];
    if (!project || !this.projects.has(project)) return errors(400, 'projects: Missing input or unknown project');
    return { status: 201, body: { data: this.render(this.createTask(project, input), req.query) } };
  }

  private putTask(req: Request): Response {
    if (!this.tasks.has(req.params.gid)) return errors(404, `task: Unknown object: ${req.params.gid}`);
    const input = this.taskInput(req);
    if (typeof input === 'string') return errors(400, input);
    return { status: 200, body: { data: this.render(this.updateTask(req.params.gid, input), req.query) } };
  }

  private deleteTaskRoute(req: Request): Response {
    if (!this.tasks.has(req.params.gid)) return errors(404, `task: Unknown object: ${req.params.gid}`);
    this.deleteTask(req.params.gid);
    return { status: 200, body: { data: {} } };
  }

  private projectTasks(req: Request): Response {
    if (!this.projects.has(req.params.gid)) return errors(404, `project: Unknown object: ${req.params.gid}`);
    return this.page(
      req,
      [...this.tasks.values()].filter((t) => t.projects.includes(req.params.gid)),
    );
  }

  /** GET /tasks/{gid}/subtasks: the task's subtasks, oldest first, compact unless opt_fields asks for more. */
  private subtasks(req: Request): Response {
    if (!this.tasks.has(req.params.gid)) return errors(404, `task: Unknown object: ${req.params.gid}`);
    return this.page(req, this.subtasksOf(req.params.gid));
  }

  private subtasksOf(gid: string): EmulatedTask[] {
    return [...(this.subtaskGids.get(gid) ?? [])].map((child) => this.tasks.get(child)!);
  }

  private searchTasks(req: Request): Response {
    const project = req.query.get('project');
    if (!project)
      return errors(400, 'project: Missing input. You must specify a project, tag, section, user task list or assignee + workspace');
    if (!this.projects.has(project)) return errors(404, `project: Unknown object: ${project}`);
    const since = req.query.get('modified_since');
    const sinceMs = since === null ? -Infinity : Date.parse(since);
    if (Number.isNaN(sinceMs)) return errors(400, `modified_since: Not a valid date-time: ${since}`);
    const tasks = [...this.tasks.values()].filter((t) => t.projects.includes(project) && Date.parse(t.modified_at) >= sinceMs);
    return this.page(req, tasks);
  }

  private getProject(req: Request): Response {
    const project = this.projects.get(req.params.gid);
    if (!project) return errors(404, `project: Unknown object: ${req.params.gid}`);
    const full = {
      gid: project.gid,
      resource_type: 'project',
      name: project.name,
      workspace: { gid: project.workspace, resource_type: 'workspace' },
    };
    return { status: 200, body: { data: selectOptFields(full, req.query) } };
  }

  private getUser(req: Request): Response {
    const user = req.params.gid === 'me' ? this.me : this.users.get(req.params.gid);
    if (!user) return errors(404, `user: Unknown object: ${req.params.gid}`);
    return { status: 200, body: { data: selectOptFields({ ...user, resource_type: 'user' }, req.query) } };
  }

  private async createWebhook(req: Request): Promise<Response> {
    const data = (parseJson(req.body) as { data?: { resource?: unknown; target?: unknown; filters?: unknown } } | undefined)?.data;
    if (typeof data?.resource !== 'string') return errors(400, 'resource: Missing input');
    if (typeof data.target !== 'string') return errors(400, 'target: Missing input');
    if (!this.projects.has(data.resource) && !this.tasks.has(data.resource))
      return errors(404, `resource: Unknown object: ${data.resource}`);
    let target: URL;
    try {
      target = new URL(data.target);
    } catch {
      return errors(400, 'target: Not a valid URL');
    }
    if (this.options.refuseLocalhostTargets && ['localhost', '127.0.0.1', '[::1]'].includes(target.hostname)) {
      return errors(403, 'Webhook target URL cannot point to localhost');
    }
    const filters = data.filters ?? [];
    const bad = filtersProblem(filters);
    if (bad !== undefined) return errors(400, bad);
    if ([...this.webhooks.values()].some((w) => w.resource === data.resource && w.target === data.target)) {
      return errors(403, 'Duplicated webhook: a webhook for this resource and target already exists');
    }
    const secret = randomBytes(32).toString('hex');
    if (!(await this.handshake(data.target, secret))) {
      return errors(
        400,
        'Could not complete activation handshake with target URL. Please ensure that the receiving server is accepting connections and supports SSL',
      );
    }
    const webhook: Webhook = {
      gid: this.gid(),
      resource: data.resource,
      target: data.target,
      filters: filters as WebhookFilter[],
      secret,
      active: true,
      created_at: isoNow(),
      last_success_at: null,
      last_failure_at: null,
      last_failure_content: '',
      delivery_retry_count: 0,
      next_attempt_after: null,
      failure_deletion_timestamp: null,
      pending: [],
    };
    this.webhooks.set(webhook.gid, webhook);
    this.track(this.post(webhook, [], 1).then(() => undefined)); // the first heartbeat
    return { status: 201, body: { data: this.renderWebhook(webhook), 'X-Hook-Secret': secret } };
  }

  private listWebhooks(req: Request): Response {
    if (req.query.get('workspace') !== this.workspaceGid) return errors(400, 'workspace: Missing input or unknown workspace');
    const resource = req.query.get('resource');
    const hooks = [...this.webhooks.values()].filter((w) => resource === null || w.resource === resource);
    return this.paginate(req, hooks, (w) => this.renderWebhook(w));
  }

  private getWebhook(req: Request): Response {
    const webhook = this.webhooks.get(req.params.gid);
    if (!webhook) return errors(404, `webhook: Unknown object: ${req.params.gid}`);
    return { status: 200, body: { data: this.renderWebhook(webhook) } };
  }

  private updateWebhook(req: Request): Response {
    const webhook = this.webhooks.get(req.params.gid);
    if (!webhook) return errors(404, `webhook: Unknown object: ${req.params.gid}`);
    const filters = (parseJson(req.body) as { data?: { filters?: unknown } } | undefined)?.data?.filters;
    if (filters === undefined) return errors(400, 'filters: Missing input');
    const bad = filtersProblem(filters);
    if (bad !== undefined) return errors(400, bad);
    webhook.filters = filters as WebhookFilter[]; // the spec: the new list replaces the old one whole
    return { status: 200, body: { data: this.renderWebhook(webhook) } };
  }

  private deleteWebhook(req: Request): Response {
    const webhook = this.webhooks.get(req.params.gid);
    if (!webhook) return errors(404, `webhook: Unknown object: ${req.params.gid}`);
    this.forget(webhook);
    return { status: 200, body: { data: {} } };
  }

  private forget(webhook: Webhook): void {
    this.stopTimers(webhook);
    this.webhooks.delete(webhook.gid);
  }

  private stopTimers(webhook: Webhook): void {
    clearTimeout(webhook.flushTimer);
    clearTimeout(webhook.deletionTimer);
  }

  // ---- rendering ----

  private render(task: EmulatedTask, query: URLSearchParams): Record<string, unknown> {
    const assignee = task.assignee === null ? null : this.users.get(task.assignee);
    const full = {
      gid: task.gid,
      resource_type: 'task',
      resource_subtype: task.resource_subtype,
      name: task.name,
      notes: task.notes,
      html_notes: `<body>${escapeHtml(task.notes)}</body>`,
      assignee: assignee ? { gid: assignee.gid, resource_type: 'user', name: assignee.name, email: assignee.email } : null,
      due_on: task.due_on,
      due_at: task.due_at,
      completed: task.completed,
      completed_at: task.completed_at,
      start_on: task.start_on,
      created_at: task.created_at,
      modified_at: task.modified_at,
      tags: task.tags.map((name) => ({ gid: this.tagGid(name), resource_type: 'tag', name })),
      parent: this.renderParent(task.parent),
      custom_fields: [...new Set(task.projects.flatMap((gid) => this.projects.get(gid)?.customFields ?? []))].map((gid) =>
        this.renderCustomFieldValue(this.customFields.get(gid)!, task.custom_fields[gid] ?? null),
      ),
      projects: task.projects.map((gid) => ({ gid, resource_type: 'project', name: this.projects.get(gid)?.name ?? '' })),
      memberships: task.projects.map((gid) => {
        const project = this.projects.get(gid);
        const section = this.sectionOf(task, gid);
        return {
          project: { gid, resource_type: 'project', name: project?.name ?? '' },
          ...(section ? { section: { gid: section.gid, resource_type: 'section', name: section.name } } : {}),
        };
      }),
      permalink_url: `https://app.asana.com/0/${task.projects[0] ?? 0}/${task.gid}`,
      ...(asksFor(query, 'num_subtasks') ? { num_subtasks: this.subtasksOf(task.gid).length } : {}),
    };
    return selectOptFields(full, query);
  }

  private tagGid(name: string): string {
    return this.tagGids.get(name) ?? this.tagGids.set(name, this.gid()).get(name)!;
  }

  private renderParent(gid: string | null): Record<string, unknown> | null {
    const parent = gid === null ? undefined : this.tasks.get(gid);
    return parent ? { gid: parent.gid, resource_type: 'task', name: parent.name, resource_subtype: parent.resource_subtype } : null;
  }

  /** A custom field's definition; a task's value of it comes without the enum options. */
  private renderCustomField(field: EmulatedCustomField, withOptions = true): Record<string, unknown> {
    return {
      gid: field.gid,
      resource_type: 'custom_field',
      name: field.name,
      type: field.resource_subtype,
      resource_subtype: field.resource_subtype,
      ...(field.resource_subtype === 'number' ? { precision: field.precision } : {}),
      ...(withOptions && field.enum_options.length > 0
        ? { enum_options: field.enum_options.map((o) => ({ ...o, resource_type: 'enum_option' })) }
        : {}),
    };
  }

  /** A task's value of a custom field as Asana shows it: the typed value and its display_value. */
  private renderCustomFieldValue(field: EmulatedCustomField, value: CustomFieldInput): Record<string, unknown> {
    const option = (name: unknown) => {
      const found = field.enum_options.find((o) => o.name === name);
      return found ? { ...found, resource_type: 'enum_option' } : null;
    };
    const people = (Array.isArray(value) ? value : []).flatMap((gid) => {
      const user = this.users.get(gid);
      return user ? [{ gid: user.gid, resource_type: 'user', name: user.name }] : [];
    });
    const definition = this.renderCustomField(field, false);
    const typed: Record<EmulatedCustomField['resource_subtype'], [string, unknown, string | null]> = {
      text: ['text_value', value, typeof value === 'string' ? value : null],
      number: ['number_value', value, typeof value === 'number' ? value.toFixed(field.precision) : null],
      enum: ['enum_value', option(value), option(value)?.name ?? null],
      multi_enum: [
        'multi_enum_values',
        (Array.isArray(value) ? value : []).map(option).filter(Boolean),
        Array.isArray(value) && value.length > 0 ? value.join(', ') : null,
      ],
      date: ['date_value', typeof value === 'string' ? { date: value, date_time: null } : null, typeof value === 'string' ? value : null],
      people: ['people_value', people, people.length > 0 ? people.map((p) => p.name).join(', ') : null],
    };
    const [key, typedValue, display] = typed[field.resource_subtype];
    return { ...definition, enabled: true, [key]: typedValue ?? null, display_value: display };
  }

  private customFieldSettings(req: Request): Response {
    const project = this.projects.get(req.params.gid);
    if (!project) return errors(404, `project: Unknown object: ${req.params.gid}`);
    const settings = project.customFields.map((gid) => ({
      gid: `${gid}0`,
      resource_type: 'custom_field_setting',
      is_important: false,
      project: { gid: project.gid, resource_type: 'project', name: project.name },
      custom_field: this.renderCustomField(this.customFields.get(gid)!),
    }));
    return this.paginate(req, settings, (s) => selectOptFields(s, req.query));
  }

  private renderWebhook(w: Webhook): Record<string, unknown> {
    return {
      gid: w.gid,
      resource_type: 'webhook',
      resource: { gid: w.resource, resource_type: 'project', name: this.projects.get(w.resource)?.name ?? '' },
      target: w.target,
      active: w.active,
      created_at: w.created_at,
      filters: w.filters,
      // the spec types these as date-time strings: a webhook that never succeeded (or failed) has none
      ...(w.last_success_at === null ? {} : { last_success_at: w.last_success_at }),
      ...(w.last_failure_at === null ? {} : { last_failure_at: w.last_failure_at }),
      last_failure_content: w.last_failure_content,
      delivery_retry_count: w.delivery_retry_count,
      ...(w.next_attempt_after === null ? {} : { next_attempt_after: w.next_attempt_after }),
      ...(w.failure_deletion_timestamp === null ? {} : { failure_deletion_timestamp: w.failure_deletion_timestamp }),
    };
  }

  private page(req: Request, tasks: EmulatedTask[]): Response {
    const ordered = this.options.listOrder === 'newest-first' ? [...tasks].reverse() : tasks;
    return this.paginate(req, ordered, (t) => this.render(t, req.query), compact);
  }

  /** limit/offset pagination, rendering only the page's items; compact records unless opt_fields asks for more. */
  private paginate<T>(
    req: Request,
    items: readonly T[],
    render: (item: T) => Record<string, unknown>,
    compactor = (i: Record<string, unknown>) => i,
  ): Response {
    const shape = req.query.has('opt_fields') ? (i: Record<string, unknown>) => i : compactor;
    const limitText = req.query.get('limit');
    if (limitText === null) {
      if (items.length > 1000)
        return errors(400, 'The result is too large. You should use pagination (may require specifying a workspace)!');
      return { status: 200, body: { data: items.map((i) => shape(render(i))) } };
    }
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return errors(400, 'limit: Must be between 1 and 100');
    const offsetText = req.query.get('offset');
    const start = offsetText === null ? 0 : pageToken.decode(offsetText);
    if (start === undefined) return errors(400, 'offset: Your pagination token is invalid or has expired');
    const data = items.slice(start, start + limit).map((i) => shape(render(i)));
    const next = start + limit < items.length ? pageToken.encode(start + limit) : null;
    const nextPage =
      next === null
        ? null
        : {
            offset: next,
            path: `${req.path.replace('/api/1.0', '')}?limit=${limit}&offset=${next}`,
            uri: `${this.url}${req.path}?limit=${limit}&offset=${next}`,
          };
    return { status: 200, body: { data, next_page: nextPage } };
  }

  private taskInput(req: Request): TaskInput | string {
    const data = (parseJson(req.body) as { data?: Record<string, unknown> } | undefined)?.data;
    if (typeof data !== 'object' || data === null) return 'data: Missing input';
    const input: TaskInput = {};
    for (const key of ['name', 'notes', 'due_on', 'due_at'] as const) {
      if (key in data) input[key] = data[key] as string;
    }
    if ('assignee' in data) {
      const assignee = data.assignee as string | null;
      if (assignee !== null && !this.users.has(assignee)) return `assignee: Unknown object: ${assignee}`;
      input.assignee = assignee;
    }
    if ('projects' in data) input.projects = data.projects as string[];
    if (input.due_on && !/^\d{4}-\d{2}-\d{2}$/.test(input.due_on)) return `due_on: Not a valid date: ${input.due_on}`;
    return input;
  }

  // ---- events and deliveries ----

  private emit(task: EmulatedTask, action: AsanaEvent['action'], parent: AsanaEvent['parent'], change: AsanaEvent['change'] = null): void {
    const event: AsanaEvent = {
      user: { gid: this.me.gid, resource_type: 'user' },
      // when the change happened: the modified_at it gave the task (a deletion leaves none)
      created_at: action === 'deleted' ? isoNow() : task.modified_at,
      action,
      resource: { gid: task.gid, resource_type: 'task', resource_subtype: task.resource_subtype },
      // the spec types parent as an object: an event without one (a change) leaves it out
      ...(parent ? { parent } : {}),
      ...(change ? { change } : {}),
    };
    for (const webhook of this.webhooks.values()) {
      if (!webhook.active || !this.reaches(task, webhook.resource)) continue;
      if (webhook.filters.length > 0 && !webhook.filters.some((f) => filterPasses(f, event))) {
        this.filteredEvents += 1;
        continue;
      }
      webhook.pending.push(event);
      webhook.flushTimer ??= setTimeout(() => this.flush(webhook), this.options.deliveryBatchMs);
    }
  }

  private flush(webhook: Webhook): void {
    webhook.flushTimer = undefined;
    const batches: AsanaEvent[][] = [];
    while (webhook.pending.length > 0) batches.push(webhook.pending.splice(0, this.options.deliveryBatchSize));
    this.track(this.send(webhook, batches));
  }

  /**
   * Starts every delivery without waiting for any, as Asana's senders do, but lets the event loop
   * run between every SEND_CHUNK of them: creating thousands of requests in one go would hold the
   * first one back until the last was made, a delay of this process, not of Asana's.
   */
  private async send(webhook: Webhook, batches: AsanaEvent[][]): Promise<void> {
    for (const [i, batch] of batches.entries()) {
      if (i > 0 && i % SEND_CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
      this.track(this.deliverWithRetries(webhook, batch));
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async deliverWithRetries(webhook: Webhook, events: AsanaEvent[]): Promise<void> {
    for (let attempt = 1; attempt <= this.options.maxDeliveryAttempts && !this.closed; attempt += 1) {
      const status = await this.post(webhook, events, attempt);
      if (typeof status === 'number' && status >= 200 && status < 300) return;
      if (!this.webhooks.has(webhook.gid) || attempt === this.options.maxDeliveryAttempts) return;
      const delay = Math.min(this.options.retryBaseMs * 2 ** (attempt - 1), this.options.retryMaxMs);
      webhook.delivery_retry_count += 1;
      webhook.next_attempt_after = new Date(Date.now() + delay).toISOString();
      await sleep(delay);
      if (!this.webhooks.has(webhook.gid)) return; // deleted while it waited
    }
  }

  private async post(webhook: Webhook, events: AsanaEvent[], attempt: number): Promise<number | 'timeout' | 'error'> {
    const body = JSON.stringify({ events });
    this.deliveredEvents?.push(events);
    const sentAt = Date.now();
    const outcome = await post(
      this.agent,
      webhook.target,
      { 'content-type': 'application/json', 'x-hook-signature': signDelivery(webhook.secret, body) },
      body,
      this.options.deliveryTimeoutMs,
    );
    const status = typeof outcome === 'string' ? outcome : outcome.status;
    this.deliveries.push({
      webhookGid: webhook.gid,
      events: events.length,
      resources: events.map((e) => e.resource.gid),
      sentAt,
      status,
      attempt,
      at: Date.now(),
    });
    if (typeof status === 'number' && status >= 200 && status < 300) this.succeeded(webhook);
    else this.failed(webhook, typeof status === 'number' ? `Received status ${status}` : `Delivery ${status}`);
    return status;
  }

  private succeeded(webhook: Webhook): void {
    webhook.last_success_at = isoNow();
    Object.assign(webhook, { delivery_retry_count: 0, next_attempt_after: null, failure_deletion_timestamp: null });
    clearTimeout(webhook.deletionTimer);
  }

  /** A failure after a success starts the clock: with no success by failureDeletionMs, Asana deletes the webhook. */
  private failed(webhook: Webhook, content: string): void {
    webhook.last_failure_at = isoNow();
    webhook.last_failure_content = content;
    if (webhook.failure_deletion_timestamp !== null) return;
    webhook.failure_deletion_timestamp = new Date(Date.now() + this.options.failureDeletionMs).toISOString();
    webhook.deletionTimer = setTimeout(() => this.forget(webhook), this.options.failureDeletionMs);
  }

  private async handshake(target: string, secret: string): Promise<boolean> {
    const outcome = await post(this.agent, target, { 'x-hook-secret': secret }, '', this.options.deliveryTimeoutMs);
    return typeof outcome !== 'string' && (outcome.status === 200 || outcome.status === 204) && outcome.headers['x-hook-secret'] === secret;
  }

  /** Applies changes to a task as Asana does (modified_at, due_on from due_at), with no event. */
  private change(gid: string, changes: TaskInput): EmulatedTask {
    const task = this.mustFind(gid);
    const now = isoNow();
    if (changes.completed !== undefined && changes.completed !== task.completed) task.completed_at = changes.completed ? now : null;
    const formerParent = task.parent;
    Object.assign(task, changes, { modified_at: now });
    if (task.parent !== formerParent) this.fileSubtask(gid, formerParent, task.parent);
    if (changes.due_at && !changes.due_on) task.due_on = changes.due_at.slice(0, 10);
    return task;
  }

  /** Whether a task's events reach a webhook on this resource: the task itself, one of its projects, or (bubbling up) an ancestor's. */
  private reaches(task: EmulatedTask, resource: string): boolean {
    for (let t: EmulatedTask | undefined = task; t; t = t.parent === null ? undefined : this.tasks.get(t.parent)) {
      if (t.gid === resource || t.projects.includes(resource)) return true;
    }
    return false;
  }

  private mustFindProject(gid: string): EmulatedProject {
    const project = this.projects.get(gid);
    if (!project) throw new Error(`no project ${gid}`);
    return project;
  }

  private sectionOf(task: EmulatedTask, projectGid: string): EmulatedSection | undefined {
    const sections = this.projects.get(projectGid)?.sections ?? [];
    return sections.find((s) => s.gid === task.sections[projectGid]) ?? sections[0];
  }

  private mustFind(gid: string): EmulatedTask {
    const task = this.tasks.get(gid);
    if (!task) throw new Error(`no task ${gid}`);
    return task;
  }

  private gid(): string {
    this.nextGid += 1n;
    return this.nextGid.toString();
  }
}

function copyTask(task: EmulatedTask): EmulatedTask {
  return structuredClone(task);
}

function copyWebhook({ pending: _pending, flushTimer: _flushTimer, deletionTimer: _deletionTimer, ...webhook }: Webhook): EmulatedWebhook {
  return { ...webhook, filters: structuredClone(webhook.filters) };
}

/** What is wrong with a request's filters, as Asana's 400 says it; undefined when nothing is. */
function filtersProblem(filters: unknown): string | undefined {
  if (!Array.isArray(filters)) return 'filters: Must be an array of filters';
  for (const filter of filters as Partial<Record<keyof WebhookFilter, unknown>>[]) {
    if (typeof filter?.resource_type !== 'string') return 'filters: resource_type is required in each filter';
    if (filter.action !== undefined && !EVENT_ACTIONS.includes(filter.action as string))
      return `filters: action must be one of ${EVENT_ACTIONS.join(', ')}, got ${JSON.stringify(filter.action)}`;
    if (filter.fields === undefined) continue;
    if (!Array.isArray(filter.fields) || filter.fields.some((f) => typeof f !== 'string'))
      return 'filters: fields must be an array of field names';
    if (filter.action !== 'changed') return 'filters: fields is only valid for action "changed"';
  }
  return undefined;
}

function filterPasses(filter: WebhookFilter, event: AsanaEvent): boolean {
  if (filter.resource_type !== event.resource.resource_type) return false;
  if (filter.resource_subtype && filter.resource_subtype !== event.resource.resource_subtype) return false;
  if (filter.action && filter.action !== event.action) return false;
  if (filter.fields && !(event.action === 'changed' && event.change && filter.fields.includes(event.change.field))) return false;
  return true;
}

function compact(record: Record<string, unknown>): Record<string, unknown> {
  const { gid, resource_type, name, resource_subtype } = record;
  return { gid, resource_type, name, ...(resource_subtype ? { resource_subtype } : {}) };
}

/** Whether a request's answer holds this field: it is in opt_fields, or there are none (the full record). */
function asksFor(query: URLSearchParams, field: string): boolean {
  return query.get('opt_fields')?.split(',').includes(field) ?? true;
}

/** Applies opt_fields (dotted paths) to a full record; gid always comes back. */
function selectOptFields(full: Record<string, unknown>, query: URLSearchParams): Record<string, unknown> {
  const optFields = query.get('opt_fields');
  if (optFields === null) return full;
  return selectPaths(
    full,
    optFields
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );
}

function selectPaths(record: Record<string, unknown>, paths: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { gid: record.gid };
  const nested = new Map<string, string[]>();
  for (const path of paths) {
    const [head, ...rest] = path.split('.');
    if (!(head in record)) continue;
    if (rest.length === 0) {
      const value = record[head];
      out[head] = isRecord(value)
        ? { gid: value.gid, resource_type: value.resource_type }
        : Array.isArray(value)
          ? value.map((v) => (isRecord(v) ? { gid: v.gid } : v))
          : value;
    } else {
      nested.set(head, [...(nested.get(head) ?? []), rest.join('.')]);
    }
  }
  for (const [head, rest] of nested) {
    const value = record[head];
    out[head] = isRecord(value)
      ? selectPaths(value, rest)
      : Array.isArray(value)
        ? value.map((v) => (isRecord(v) ? selectPaths(v, rest) : v))
        : value;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
