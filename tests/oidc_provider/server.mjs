// A real OpenID Connect provider (the certified `oidc-provider`) for the SSO tests.
//
//   node server.mjs CONFIG.json
//
// CONFIG names the clients ({client_id, client_secret, redirect_uris}) and the accounts
// ({sub, password, tid, oid, email, name, amr, acr, disabled}), shaped like Microsoft Entra ID's
// claims. The server listens on a free 127.0.0.1 port and prints one line of JSON with its
// issuer once it is ready. It stops on SIGTERM.
//
// Besides the provider's own endpoints it offers, for tests only:
//   GET  /interaction/:uid                  a sign-in form (email and password)
//   POST /interaction/:uid                  signs in, or shows the form again with an error
//   POST /_test/accounts/:sub/disable       the account is disabled (a leaver): its sessions end
//   POST /_test/misbehave?mode=MODE         later ID tokens are spoilt: issuer, audience, nonce,
//                                           expired or signature (signed with another key); none
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

import * as jose from 'jose';
import Provider, { interactionPolicy } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(config.accounts.map((account) => [account.sub, { ...account }]));
const MODES = new Set(['none', 'issuer', 'audience', 'nonce', 'expired', 'signature']);
let misbehaviour = 'none';

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

const kid = randomUUID();
const key = await signingKey(kid);
// Same key id, different key: a forged token that names the provider's key.
const forgerKey = await jose.importJWK(await signingKey(kid), 'RS256');

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  const message = error ? `<p role="alert" id="error">${escape(error)}</p>` : '';
  return `<!doctype html><html lang="en"><head><title>Test provider sign in</title><link rel="icon" href="data:,"></head><body>
<main><h1>Test provider sign in</h1>${message}
<form method="post" action="/interaction/${escape(uid)}">
<label for="email">Email</label> <input id="email" name="email" autocomplete="username">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form></main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function findBySignIn(email, password) {
  for (const account of accounts.values()) {
    if (account.email === email && account.password === password) return account;
  }
  return undefined;
}

async function spoil(idToken) {
  const claims = jose.decodeJwt(idToken);
  let signWith = await jose.importJWK(key, 'RS256');
  if (misbehaviour === 'issuer') claims.iss = 'http://127.0.0.1:9/not-the-issuer';
  if (misbehaviour === 'audience') claims.aud = 'another-client';
  if (misbehaviour === 'nonce') claims.nonce = 'not-the-nonce-that-was-sent';
  if (misbehaviour === 'expired') {
    claims.iat -= 7200;
    claims.exp = claims.iat + 600;
  }
  if (misbehaviour === 'signature') signWith = forgerKey;
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .sign(signWith);
}

// A disabled account's session no longer counts: the provider asks for a sign-in again, so a
// prompt=none request is answered login_required (as Entra ID does for a disabled user).
const policy = interactionPolicy.base();
policy.get('login').checks.add(new interactionPolicy.Check(
  'account_disabled',
  'the account is disabled',
  (ctx) => (ctx.oidc.session.accountId && !ctx.oidc.account
    ? interactionPolicy.Check.REQUEST_PROMPT
    : interactionPolicy.Check.NO_NEED_TO_PROMPT),
));

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      ...client,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    jwks: { keys: [key] },
    cookies: { keys: [randomUUID()] },
    claims: {
      sid: null,
      openid: ['sub', 'tid', 'oid', 'amr', 'acr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => false },
    interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account || account.disabled) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            tid: account.tid,
            oid: account.oid,
            email: account.email,
            email_verified: true,
            name: account.name,
            preferred_username: account.email,
          };
        },
      };
    },
  });

  async function finish(req, res, details, account) {
    let { grantId } = details;
    if (!grantId) {
      const grant = new provider.Grant({ accountId: account.sub, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      grantId = await grant.save();
    }
    const login = { accountId: account.sub, amr: account.amr ?? ['pwd'] };
    if (account.acr) login.acr = account.acr;
    await provider.interactionFinished(req, res, { login, consent: { grantId } }, {
      mergeWithLastSubmission: false,
    });
  }

  provider.use(async (ctx, next) => {
    const { req, res } = ctx;
    const interaction = ctx.path.match(/^\/interaction\/([^/]+)$/);
    const disable = ctx.path.match(/^\/_test\/accounts\/([^/]+)\/disable$/);
    if (interaction) {
      ctx.respond = false;
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'consent') {
        await finish(req, res, details, accounts.get(details.session.accountId));
        return;
      }
      if (req.method === 'POST') {
        const form = await readForm(req);
        const account = findBySignIn(form.get('email'), form.get('password'));
        if (account && !account.disabled) {
          await finish(req, res, details, account);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(loginPage(details.uid, account ? 'This account is disabled.' : 'Wrong email or password.'));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(loginPage(details.uid));
      return;
    }
    if (disable && ctx.method === 'POST') {
      const account = accounts.get(decodeURIComponent(disable[1]));
      ctx.status = account ? 204 : 404;
      if (account) account.disabled = true;
      return;
    }
    if (ctx.path === '/_test/misbehave' && ctx.method === 'POST') {
      const mode = ctx.query.mode ?? 'none';
      ctx.status = MODES.has(mode) ? 204 : 400;
      if (MODES.has(mode)) misbehaviour = mode;
      return;
    }
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && misbehaviour !== 'none' && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await spoil(ctx.body.id_token) };
    }
  });

  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
