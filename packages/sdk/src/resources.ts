export { Approvals } from "./approvals.js";
export { Audit } from "./audit.js";

import {
  type Approval,
  approvalFromWire,
  type WaitOptions as CreateWaitOptions,
  waitForApproval,
} from "./approvals.js";
import type { Transport } from "./http.js";
import { Nonce } from "./nonce.js";
import type {
  ApiKey,
  CreatedApiKey,
  CreateKeyParams,
  CreateNonceParams,
  CredentialInput,
  CredentialReceipt,
  DelegateNonceParams,
  NonceInfo,
  NonceListParams,
  NoncePage,
  RevokeWhereParams,
  Service,
  ServiceInput,
  Template,
} from "./types.js";
import {
  date,
  keyFromWire,
  nonceCreateToWire,
  nonceDelegateToWire,
  nonceInfoFromWire,
  serviceFromWire,
  serviceInputToWire,
  templateFromWire,
  type Wire,
} from "./wire.js";

const seg = (s: string) => encodeURIComponent(s);

/** Follows `next_cursor` until the last page. */
async function* allPages<T, P extends { cursor?: string }>(
  params: P,
  list: (p: P) => Promise<{ items: T[]; nextCursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor = params.cursor;
  for (;;) {
    const page = await list({ ...params, cursor });
    yield* page.items;
    if (!page.nextCursor || page.nextCursor === cursor) return;
    cursor = page.nextCursor;
  }
}

export class Nonces {
  constructor(private readonly t: Transport) {}

  /**
   * Issues a nonce for one task or step. Dispose (or `revoke()`) it when the task ends. When the issuer policy
   * needs a human approval (202), waits for the decision (polling with backoff; `timeoutMs`, `signal`) and
   * rejects with `approval_denied` / `approval_expired`; with `{wait: false}` returns the pending Approval.
   */
  async create(params: CreateNonceParams, opts?: CreateWaitOptions & { wait?: true }): Promise<Nonce>;
  async create(params: CreateNonceParams, opts: CreateWaitOptions & { wait: false }): Promise<Nonce | Approval>;
  async create(
    params: CreateNonceParams,
    opts: CreateWaitOptions & { wait?: boolean } = {},
  ): Promise<Nonce | Approval> {
    const w = await this.t.request<Wire>("POST", "/v1/nonces", { body: nonceCreateToWire(params) });
    if (w.approval && typeof w.approval === "object" && w.nonce === undefined) {
      const pending = approvalFromWire(w.approval as Wire);
      if (opts.wait === false) return pending;
      return this.handle(await waitForApproval(this.t, pending, opts));
    }
    return this.handle(w);
  }

  /** Waits for a pending approval (e.g. one `create({wait: false})` returned) and returns its nonce. */
  async waitForApproval(approval: Approval, opts: CreateWaitOptions = {}): Promise<Nonce> {
    return this.handle(await waitForApproval(this.t, approval, opts));
  }

  /** `POST /v1/nonces/delegate` with a parent token (usually through `nonce.delegate(...)`). */
  async delegate(parentToken: string, params: DelegateNonceParams): Promise<Nonce> {
    const body = nonceDelegateToWire(params);
    return this.handle(await this.t.request<Wire>("POST", "/v1/nonces/delegate", { body, bearer: parentToken }));
  }

  private handle(w: Wire): Nonce {
    return new Nonce(w, {
      revoke: (id) => this.revoke(id),
      fetch: this.t.fetchImpl,
      delegate: (token, p) => this.delegate(token, p),
    });
  }

  async get(id: string): Promise<NonceInfo> {
    return nonceInfoFromWire(await this.t.request<Wire>("GET", `/v1/nonces/${seg(id)}`));
  }

  async list(params: NonceListParams = {}): Promise<NoncePage> {
    const w = await this.t.request<Wire>("GET", "/v1/nonces", { query: { ...params } });
    return { nonces: (w.nonces ?? []).map(nonceInfoFromWire), nextCursor: w.next_cursor ?? null };
  }

  /** Every nonce matching the filters, across pages: `for await (const n of an.nonces.iterate({ task }))`. */
  iterate(params: Omit<NonceListParams, "cursor"> = {}): AsyncGenerator<NonceInfo, void, undefined> {
    return allPages<NonceInfo, NonceListParams>(params, async (p) => {
      const page = await this.list(p);
      return { items: page.nonces, nextCursor: page.nextCursor };
    });
  }

  async revoke(id: string): Promise<void> {
    await this.t.request("DELETE", `/v1/nonces/${seg(id)}`);
  }

  /** Revokes every live nonce matching all given filters (at least one). Returns how many were revoked. */
  async revokeWhere(where: RevokeWhereParams): Promise<number> {
    const body: Wire = {};
    for (const k of ["task", "agent", "service"] as const) if (where[k] !== undefined) body[k] = where[k];
    const w = await this.t.request<Wire>("POST", "/v1/nonces/revoke", { body });
    return typeof w.revoked === "number" ? w.revoked : 0;
  }
}

export class Services {
  constructor(private readonly t: Transport) {}

  async put(name: string, input: ServiceInput = {}): Promise<Service> {
    const w = await this.t.request<Wire>("PUT", `/v1/services/${seg(name)}`, { body: serviceInputToWire(input) });
    return serviceFromWire(w);
  }

  async get(name: string): Promise<Service> {
    return serviceFromWire(await this.t.request<Wire>("GET", `/v1/services/${seg(name)}`));
  }

  async list(): Promise<Service[]> {
    const w = await this.t.request<Wire>("GET", "/v1/services");
    return (w.services ?? []).map(serviceFromWire);
  }

  async delete(name: string): Promise<void> {
    await this.t.request("DELETE", `/v1/services/${seg(name)}`);
  }

  /** Sets the service's real credential. Write-only: the answer is a fingerprint, never the secret. */
  async setCredential(name: string, credential: CredentialInput): Promise<CredentialReceipt> {
    const body = typeof credential === "string" ? { secret: credential } : credential;
    const w = await this.t.request<Wire>("PUT", `/v1/services/${seg(name)}/credential`, { body });
    return { fingerprint: w.fingerprint, updatedAt: date(w.updated_at) };
  }
}

export class Keys {
  constructor(private readonly t: Transport) {}

  /** Creates an API key. The returned `key` is shown once. */
  async create(params: CreateKeyParams): Promise<CreatedApiKey> {
    const body: Wire = { name: params.name, role: params.role };
    if (params.policy) body.policy = params.policy;
    const w = await this.t.request<Wire>("POST", "/v1/keys", { body });
    return { ...keyFromWire(w), key: w.key };
  }

  async list(): Promise<ApiKey[]> {
    const w = await this.t.request<Wire>("GET", "/v1/keys");
    return (w.keys ?? []).map(keyFromWire);
  }

  async revoke(id: string): Promise<void> {
    await this.t.request("DELETE", `/v1/keys/${seg(id)}`);
  }
}

export class Templates {
  constructor(private readonly t: Transport) {}

  async list(): Promise<Template[]> {
    const w = await this.t.request<Wire>("GET", "/v1/templates");
    return (w.templates ?? []).map(templateFromWire);
  }
}
