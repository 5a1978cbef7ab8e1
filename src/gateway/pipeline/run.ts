import type { IncomingMessage, ServerResponse } from "node:http";
import { newId } from "../../core/ids.js";
import { awsAuthorise, awsInject, isSigV4 } from "../aws/handle-aws.js";
import type { AwsGateway } from "../aws/index.js";
import { isDeadReason } from "../dead-nonces.js";
import { GatewayReject } from "../errors.js";
import { isNonceViewTarget, serveNonceView } from "../nonce-view.js";
import { admit, limits } from "./admit.js";
import { answer, errName } from "./answer.js";
import { authorise } from "./authorise.js";
import { carrier, methodRejection } from "./carrier.js";
import { consume } from "./consume.js";
import type { PipelineDeps } from "./deps.js";
import { type Exchange, isRejection, reject, type Subject } from "./exchange.js";
import { inject, type Outbound, settle } from "./inject.js";
import { relay } from "./relay.js";
import { target } from "./target.js";

/**
 * One gateway request, top to bottom: carrier → target → authorise → admit → consume → inject → relay. Each stage
 * returns the next one's input or a rejection, which `answer` turns into the response, the audit event and the
 * metric. Every rejection happens before anything is sent upstream and before the credential is decrypted; the
 * ones before the consume count no use. An AWS SDK request (SigV4 instead of a token) has its own carrier,
 * target and authorise stages (aws/handle-aws.ts) and shares the rest.
 */
export function createPipeline(d: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const tally = d.ctx.metrics.gatewayTally;
  const onClose = function (this: ServerResponse): void {
    tally.inFlight -= 1;
    d.limits.release(this);
  };

  // Stages answer with a plain value when nothing needs I/O (cache hits, no body to read): the hot path awaits
  // only what really waits (the consume, the upstream), not a promise per stage.
  async function run(x: Exchange): Promise<void> {
    const bad = methodRejection(x);
    if (bad) return answer(d, x, bad);
    // An AWS SDK signs with the nonce's AWS key pair instead of presenting the token (see gateway/aws/).
    if (d.aws && isSigV4(x.req.headers.authorization)) return runAws(x, d as PipelineDeps & { aws: AwsGateway });
    // Whom an unexpected failure is about (its metric's service label), once known.
    let about: Subject | undefined;
    try {
      const cp = carrier(d, x);
      const c = cp instanceof Promise ? await cp : cp;
      if (isRejection(c)) return await answer(d, x, c);
      // The nonce's own view: answered here, never forwarded, no use counted (nonce-view.ts).
      if (isNonceViewTarget(x.req.url)) {
        return await serveNonceView(d.ctx, x, c.key, (code, msg) => void answer(d, x, reject(code, msg)));
      }
      const t = target(d, x);
      if (isRejection(t)) return await answer(d, x, t);
      const ap = authorise(d, x, c, t);
      const a = ap instanceof Promise ? await ap : ap;
      if (isRejection(a)) return await answer(d, x, a);
      about = a.subject;
      const adp = admit(d, x, a);
      const ad = adp instanceof Promise ? await adp : adp;
      if (isRejection(ad)) return await answer(d, x, ad);
      const consumed = await consume(d, x, about, a.service.credentialFingerprint);
      if (isRejection(consumed)) return await answer(d, x, consumed);
      const op = inject(d, x, ad, consumed);
      const o = op instanceof Promise ? await op : op;
      if (isRejection(o)) return await answer(d, x, o);
      await relayAndSettle(x, o);
    } catch (e) {
      failed(x, e, about);
    }
  }

  async function runAws(x: Exchange, da: PipelineDeps & { aws: AwsGateway }): Promise<void> {
    let about: Subject | undefined;
    try {
      const a = await awsAuthorise(da, x);
      if (isRejection(a)) return await answer(d, x, a);
      about = a.subject;
      const limited = limits(d, x, about);
      if (limited) return await answer(d, x, limited);
      const consumed = await consume(d, x, about, a.service.credentialFingerprint);
      if (isRejection(consumed)) {
        await answer(d, x, consumed);
        // A nonce that can no longer be used has no use for its STS session either.
        const code = consumed.rejected;
        if (isDeadReason(code) || code === "nonce_invalid") void da.aws.sessions.destroy(about.nonce.id, code);
        return;
      }
      const o = await awsInject(da, x, a);
      if (isRejection(o)) return await answer(d, x, o);
      await relayAndSettle(x, o);
    } catch (e) {
      failed(x, e, about);
    }
  }

  async function relayAndSettle(x: Exchange, o: Outbound): Promise<void> {
    let status: number | null = null;
    try {
      const relayed = await relay(d, x, o);
      if (relayed !== null && typeof relayed === "object") await answer(d, x, relayed);
      else status = relayed;
    } finally {
      const settling = settle(o, status);
      if (settling) await settling;
    }
  }

  /** A bug or an I/O failure no stage turned into a rejection: logged by class, answered 500 if still possible. */
  function failed(x: Exchange, e: unknown, subject: Subject | undefined): void {
    if (e instanceof GatewayReject) return void answer(d, x, { rejected: e.code, message: e.message, subject });
    d.ctx.log.error({ err: errName(e), request_id: x.requestId }, "gateway request failed");
    if (x.res.headersSent) x.res.destroy();
    else void answer(d, x, { rejected: "internal", message: "internal error", subject });
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const now = d.ctx.clock.now();
    const x: Exchange = {
      req,
      res,
      requestId: newId("req", now),
      now,
      started: performance.now(),
      method: req.method ?? "",
      sourceIp: req.socket.remoteAddress ?? null,
    };
    req.on("error", noop);
    res.on("error", noop);
    tally.inFlight += 1;
    d.limits.open(res);
    res.on("close", onClose);
    run(x).catch((e: unknown) => failed(x, e, undefined));
  };
}

function noop(): void {}
