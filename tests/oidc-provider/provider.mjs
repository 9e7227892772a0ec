// A real OpenID Provider (the certified `oidc-provider` library) on loopback for the console's
// sign-in tests: one public client (Authorization Code + PKCE, refresh tokens), JWT access
// tokens for the API's resource carrying the user's groups, users from a JSON file.
//
// Usage: node provider.mjs <settings.json>, where settings.json is
//   { "port": 4011, "client_id": "console", "redirect_uris": [...], "post_logout_redirect_uris": [...],
//     "resource": "urn:rescaler:api", "access_token_ttl_secs": 60,
//     "users": { "alice": { "groups": ["requester"], "email": "alice@example.com" } } }
// Prints `oidc-provider listening on <issuer>` once it serves, and one `oidc-event <name> ...`
// line per token issued or refused, for the tests to read.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${settings.port}`;
const users = settings.users;
const resource = settings.resource;

const configuration = {
  clients: [{
    client_id: settings.client_id,
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: settings.redirect_uris,
    post_logout_redirect_uris: settings.post_logout_redirect_uris,
  }],
  async findAccount(_ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, email: user.email, email_verified: true };
      },
    };
  },
  claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email', 'email_verified'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return { scope: 'rescaler', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: settings.access_token_ttl_secs };
      },
    },
  },
  // The API reads the user's name and groups from the access token, as it reads Cognito's.
  async extraTokenClaims(_ctx, token) {
    const user = users[token.accountId];
    return user ? { username: token.accountId, groups: user.groups } : undefined;
  },
  // Refresh tokens for the console without `offline_access` (Cognito issues them likewise).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // A first-party console: no consent page, every requested scope granted on sign-in.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    grant.addResourceScope(resource, 'rescaler');
    await grant.save();
    return grant;
  },
  clientBasedCORS(_ctx, origin, client) {
    return client.redirectUris.some((uri) => new URL(uri).origin === origin);
  },
  pkce: { required: () => true },
  ttl: { AccessToken: settings.access_token_ttl_secs, IdToken: 3600, RefreshToken: 86400, Session: 86400, Grant: 86400, Interaction: 600 },
};

const provider = new Provider(issuer, configuration);
for (const event of ['grant.success', 'grant.error', 'end_session.success', 'authorization.error', 'server_error']) {
  provider.on(event, (ctx, error) => {
    const grantType = ctx?.oidc?.params?.grant_type ?? '';
    console.log(`oidc-event ${event} ${grantType} ${error ? `${error.name}: ${error.message}` : ''}`.trimEnd());
  });
}
// Revocation answers 200 whether or not the token existed (RFC 7009): log each call.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token/revocation') console.log(`oidc-event revocation ${ctx.status}`);
});
provider.listen(settings.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
