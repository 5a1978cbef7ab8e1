// oidc-provider ships no types (and @types/oidc-provider is not installed): the test server uses it untyped.
declare module "oidc-provider";
