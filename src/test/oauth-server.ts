import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

/**
 * A real OAuth 2.0 authorization server for tests: oidc-provider (v9) on loopback with the client_credentials
 * and refresh_token grants, refresh-token rotation and token introspection, plus a fake API ("the upstream")
 * that accepts only access tokens the provider's introspection endpoint says are active. The initial refresh
 * token is seeded through the provider's own models (Grant + RefreshToken, saved by its adapter), which is what
 * an authorization_code exchange would have stored.
 */

export interface OAuthServer {
  issuer: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** POSTs to the token endpoint (every grant). */
  tokenCalls: number;
  /** A fresh refresh token for `clientId` (a new grant each time). */
  seedRefreshToken(): Promise<string>;
  /** Whether a refresh token is still usable at the provider (not consumed, not revoked). */
  refreshTokenActive(value: string): Promise<boolean>;
  api: {
    url: string;
    /** Access tokens seen, in order. */
    seen: string[];
    /** Tokens the API answers 401 for, as if revoked behind the gateway's back. */
    reject: Set<string>;
    close(): Promise<void>;
  };
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function stop(server: http.Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

export async function startOAuthServer(opts: { grant: "client_credentials" | "refresh_token" }): Promise<OAuthServer> {
  const clientId = "agent-gateway";
  const clientSecret = `cs_FAKE_${randomBytes(16).toString("hex")}`;
  const rsSecret = `rs_FAKE_${randomBytes(16).toString("hex")}`;
  let handler: http.RequestListener = (_q, s) => s.end();
  let tokenCalls = 0;
  const server = http.createServer((req, res) => {
    if (req.method === "POST" && req.url === "/token") tokenCalls++;
    handler(req, res);
  });
  const issuer = await listen(server);
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types:
          opts.grant === "client_credentials" ? ["client_credentials"] : ["refresh_token", "authorization_code"],
        response_types: opts.grant === "client_credentials" ? [] : ["code"],
        redirect_uris: opts.grant === "client_credentials" ? [] : ["http://127.0.0.1/cb"],
        token_endpoint_auth_method: "client_secret_basic",
      },
      { client_id: "fake-api", client_secret: rsSecret, grant_types: [], response_types: [], redirect_uris: [] },
    ],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
    },
    rotateRefreshToken: true,
    ttl: { AccessToken: 120, ClientCredentials: 120, RefreshToken: 86_400, Grant: 86_400 },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  });
  provider.on("server_error", () => {});
  handler = provider.callback();

  const seen: string[] = [];
  const reject = new Set<string>();
  const introspect = async (token: string): Promise<boolean> => {
    const r = await fetch(`${issuer}/token/introspection`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`fake-api:${rsSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token }).toString(),
    });
    return ((await r.json()) as { active?: boolean }).active === true;
  };
  const apiServer = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      void (async () => {
        const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
        seen.push(token);
        const send = (status: number, body: unknown) => {
          const text = JSON.stringify(body);
          res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
          res.end(text);
        };
        if (!token || reject.has(token) || !(await introspect(token))) return send(401, { error: "invalid_token" });
        if (req.url === "/v1/echo") return send(200, { you_sent: req.headers.authorization });
        send(200, { ok: true, path: req.url });
      })();
    });
  });
  const apiUrl = await listen(apiServer);

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    clientId,
    clientSecret,
    get tokenCalls() {
      return tokenCalls;
    },
    set tokenCalls(v: number) {
      tokenCalls = v;
    },
    async seedRefreshToken() {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error("test client missing");
      const grant = new provider.Grant({ accountId: "user-1", clientId });
      grant.addOIDCScope("openid offline_access");
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({
        client,
        accountId: "user-1",
        grantId,
        scope: "openid offline_access",
        gty: "authorization_code",
      });
      return rt.save();
    },
    async refreshTokenActive(value: string) {
      const rt = await provider.RefreshToken.find(value);
      return Boolean(rt && !rt.consumed && !rt.isExpired);
    },
    api: { url: apiUrl, seen, reject, close: () => stop(apiServer) },
    close: async () => {
      await stop(apiServer);
      await stop(server);
    },
  };
}
