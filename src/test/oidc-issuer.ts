import type { webcrypto } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

type CryptoKey = webcrypto.CryptoKey;

/**
 * A real OIDC token issuer for tests, on loopback: `/.well-known/openid-configuration` and a JWKS over HTTP, keys
 * made with jose, tokens signed with jose. `rotate()` replaces the signing key with one under a new `kid` (the
 * JWKS then serves only the new key), as an issuer rotating keys does; `jwksFetches` counts JWKS requests.
 */
export interface OidcIssuer {
  issuer: string;
  jwksUri: string;
  jwksFetches: number;
  discoveryFetches: number;
  kid: string;
  /** How discovery answers: normally, with a redirect (must be refused), or naming another issuer. */
  discovery: "ok" | "redirect" | "other-issuer";
  /** Signs `claims` (iss defaulted) with the current key. */
  sign(claims: JWTPayload, opts?: { alg?: string; kid?: string; key?: CryptoKey }): Promise<string>;
  rotate(): Promise<void>;
  /** A key pair the JWKS never serves (a forged signature under the current kid). */
  strangerKey(): Promise<CryptoKey>;
  close(): Promise<void>;
}

export async function startOidcIssuer(opts: { alg?: "RS256" | "ES256" } = {}): Promise<OidcIssuer> {
  const alg = opts.alg ?? "ES256";
  let generation = 0;
  let current: { kid: string; privateKey: CryptoKey; jwk: JWK };
  const makeKey = async () => {
    generation += 1;
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `test-key-${generation}`;
    current = { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
  };
  await makeKey();
  let issuer = "";
  const state = { jwksFetches: 0, discoveryFetches: 0, discovery: "ok" as OidcIssuer["discovery"] };
  const server = http.createServer((req, res) => {
    if (req.url === "/redirected") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else if (req.url === "/.well-known/openid-configuration") {
      state.discoveryFetches += 1;
      if (state.discovery === "redirect") {
        // The target serves a valid document: following the redirect would make the token pass.
        res.writeHead(302, { location: `${issuer}/redirected` }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      const named = state.discovery === "other-issuer" ? `${issuer}/other` : issuer;
      res.end(
        JSON.stringify({ issuer: named, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: [alg] }),
      );
    } else if (req.url === "/jwks") {
      state.jwksFetches += 1;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [current.jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    get jwksFetches() {
      return state.jwksFetches;
    },
    get discoveryFetches() {
      return state.discoveryFetches;
    },
    get discovery() {
      return state.discovery;
    },
    set discovery(v) {
      state.discovery = v;
    },
    get kid() {
      return current.kid;
    },
    async sign(claims, o = {}) {
      return new SignJWT({ iss: issuer, ...claims })
        .setProtectedHeader({ alg: o.alg ?? alg, kid: o.kid ?? current.kid, typ: "JWT" })
        .sign(o.key ?? current.privateKey);
    },
    rotate: makeKey,
    async strangerKey() {
      return (await generateKeyPair(alg)).privateKey;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
