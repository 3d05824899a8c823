/**
 * App-only logins as a tenant migration uses them, against a real Dovecot whose oauth2 passdb asks a
 * local identity provider (RFC 7662 introspection). The provider plays Microsoft's client-credentials
 * endpoint (client id and secret checked) and Google's JWT-bearer endpoint (the assertion's RS256
 * signature verified with the service account's public key, its claims and expiry checked).
 */
import assert from 'node:assert/strict'
import {createVerify, generateKeyPairSync, randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'

import {startDovecot, type DovecotInstance} from '../harness/dovecot.js'
import {startFormEndpoint, type FormEndpoint} from '../harness/form-endpoint.js'
import {seed, snapshot} from '../harness/mailbox.js'
import {generateMessages} from '../harness/messages.js'
import {freshUser, runCli, tempDir} from './cli.js'

const CLIENT_SECRET = `cs-${randomBytes(12).toString('hex')}`
const serviceKey = generateKeyPairSync('rsa', {modulusLength: 2048})
const SERVICE_EMAIL = 'migrator@tenant-test.iam.gserviceaccount.com'

class IdentityProvider {
  readonly tokens = new Map<string, string>()
  /** Mailbox the client-credentials tokens are good for (the app may open any; Dovecot needs one name). */
  appUser = ''
  grants: string[] = []
  endpoint!: FormEndpoint
  url = ''

  async start(): Promise<void> {
    this.endpoint = await startFormEndpoint((path, form) => {
      const reply = (status: number, json: unknown) => ({status, json})
      const issue = (user: string) => {
        const token = `at-${randomBytes(16).toString('base64url')}`
        this.tokens.set(token, user)
        return reply(200, {access_token: token, token_type: 'Bearer', expires_in: 3600})
      }
      if (path === '/introspect') {
        const user = this.tokens.get(form.get('token') ?? '')
        return reply(200, user ? {active: true, username: user} : {active: false})
      }
      const grant = form.get('grant_type') ?? ''
      this.grants.push(grant)
      if (grant === 'client_credentials') {
        if (form.get('client_id') !== 'app-1' || form.get('client_secret') !== CLIENT_SECRET) {
          return reply(401, {error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 0'})
        }
        if (form.get('scope') !== 'https://outlook.office365.com/.default') return reply(400, {error: 'invalid_scope'})
        return issue(this.appUser)
      }
      if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        const [h, c, s] = (form.get('assertion') ?? '').split('.')
        const ok = createVerify('RSA-SHA256').update(`${h}.${c}`).verify(serviceKey.publicKey, Buffer.from(s ?? '', 'base64url'))
        const claims = JSON.parse(Buffer.from(c ?? '', 'base64url').toString() || '{}')
        const now = Date.now() / 1000
        if (!ok || claims.iss !== SERVICE_EMAIL || claims.aud !== `${this.url}/token` || claims.scope !== 'https://mail.google.com/' || !(claims.exp > now && claims.iat <= now + 5)) {
          return reply(400, {error: 'invalid_grant', error_description: 'Invalid JWT Signature.'})
        }
        return issue(claims.sub)
      }
      return reply(400, {error: 'unsupported_grant_type'})
    })
    this.url = this.endpoint.url
  }
}

let source: DovecotInstance
let dest: DovecotInstance
/** Takes an app-only token for any mailbox of its domain, as a tenant's IMAP.AccessAsApp does. */
let tenantDest: DovecotInstance
const TENANT = 'tenant.test'
const idp = new IdentityProvider()
const tmp = tempDir()

before(async () => {
  await idp.start()
  ;[source, dest, tenantDest] = await Promise.all([
    startDovecot({separator: '/', name: 'app-src'}),
    startDovecot({separator: '.', name: 'app-dst', oauth2IntrospectionUrl: `${idp.url}/introspect`}),
    startDovecot({separator: '.', name: 'app-tenant', oauth2IntrospectionUrl: `${idp.url}/introspect`, oauth2UsernameFormat: '%d'}),
  ])
})
after(async () => {
  await Promise.all([source?.stop(), dest?.stop(), tenantDest?.stop()])
  await idp.endpoint.close()
  tmp.cleanup()
})

const url = (instance: DovecotInstance, user: string) => `imap://${encodeURIComponent(user)}@127.0.0.1:${instance.port}`

async function migrate(oauth2Yaml: string, env: NodeJS.ProcessEnv = {}) {
  const users = {source: freshUser('app'), dest: freshUser('app')}
  idp.appUser = users.dest
  await seed(source, users.source, {INBOX: generateMessages(6, {seed: 81}), Sent: generateMessages(3, {seed: 82})})
  const config = join(tmp.dir, `${users.dest}.yaml`)
  writeFileSync(
    config,
    `source:\n  url: ${url(source, users.source)}\n  tls: none\n  passwordEnv: MF_APP_SRC_PW\n` +
      `dest:\n  url: ${url(dest, users.dest)}\n  tls: none\n  authMethod: xoauth2\n  oauth2:\n${oauth2Yaml}` +
      `state: ${join(tmp.dir, `${users.dest}.sqlite`)}\n`,
    {mode: 0o600},
  )
  const run = await runCli(['sync', '--config', config, '--json'], {MF_APP_SRC_PW: source.password, ...env})
  return {users, run}
}

test('Microsoft 365 app-only: the client-credentials grant logs in as the mailbox; the secret shows nowhere', async () => {
  const before = idp.grants.length
  const {users, run} = await migrate(
    `    grant: client_credentials\n    tokenUrl: ${idp.url}/token\n    clientId: app-1\n    clientSecretEnv: MF_APP_SECRET\n`,
    {MF_APP_SECRET: CLIENT_SECRET},
  )
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.copied, 9)
  assert.ok(idp.grants.slice(before).every((g) => g === 'client_credentials') && idp.grants.length > before)
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
  assert.ok(!(run.stdout + run.stderr).includes(CLIENT_SECRET))
})

test('Google Workspace: a service account with delegation, sub = the login user, signed JWT verified', async () => {
  const keyFile = join(tmp.dir, 'service-key.json')
  const privateKey = serviceKey.privateKey.export({type: 'pkcs8', format: 'pem'}).toString()
  writeFileSync(keyFile, JSON.stringify({type: 'service_account', client_email: SERVICE_EMAIL, private_key: privateKey, token_uri: `${idp.url}/token`}), {mode: 0o600})
  const {users, run} = await migrate(`    grant: service_account\n    keyFile: ${keyFile}\n`)
  assert.equal(run.code, 0, run.stderr)
  assert.equal(idp.grants.at(-1), 'urn:ietf:params:oauth:grant-type:jwt-bearer')
  assert.deepEqual(await snapshot(dest, users.dest), await snapshot(source, users.source))
})

test('a refused grant: exit 3, the provider error on one line with a hint, nothing copied', async () => {
  const {users, run} = await migrate(
    `    grant: client_credentials\n    tokenUrl: ${idp.url}/token\n    clientId: app-1\n    clientSecretEnv: MF_APP_SECRET\n`,
    {MF_APP_SECRET: 'not-the-secret'},
  )
  assert.equal(run.code, 3, run.stderr)
  assert.match(run.stderr, /refused the grant: invalid_client: AADSTS7000215: Invalid client secret provided\./)
  assert.match(run.stderr, /client secret is wrong or expired/)
  assert.doesNotMatch(run.stderr, /Trace ID|\n\s+at /)
  assert.deepEqual((await snapshot(dest, users.dest)).INBOX ?? [], [])
})

/**
 * A batch whose defaults hold one app credential for the destination; each job names only its users.
 * Returns the run and the accounts (each seeded with a few messages on the source).
 */
async function batchWithAppCredential(target: DovecotInstance, oauth2Yaml: string, destUser: (i: number) => string, env: NodeJS.ProcessEnv = {}) {
  const accounts = [0, 1, 2].map((i) => ({source: freshUser('appb'), dest: destUser(i)}))
  await Promise.all(accounts.map((a, i) => seed(source, a.source, {INBOX: generateMessages(3, {seed: 90 + i}), Sent: generateMessages(1, {seed: 95 + i})})))
  const config = join(tmp.dir, `batch-${accounts[0].source}.yaml`)
  writeFileSync(
    config,
    `defaults:\n  source: {host: 127.0.0.1, port: ${source.port}, tls: none, passwordEnv: MF_APP_SRC_PW}\n` +
      `  dest:\n    host: 127.0.0.1\n    port: ${target.port}\n    tls: none\n    authMethod: xoauth2\n    oauth2:\n${oauth2Yaml}` +
      `stateDir: ./state-${accounts[0].source}\njobs:\n` +
      accounts.map((a) => `  - source: {user: ${a.source}}\n    dest: {user: ${a.dest}}\n`).join(''),
    {mode: 0o600},
  )
  const run = await runCli(['batch', '--config', config, '--parallel', '2', '--json'], {MF_APP_SRC_PW: source.password, ...env})
  return {accounts, run}
}

test('batch, Microsoft 365 app-only: one client credential logs in to every mailbox of the tenant', async () => {
  idp.appUser = `migrator@${TENANT}`
  const before = idp.grants.length
  const {accounts, run} = await batchWithAppCredential(
    tenantDest,
    `      grant: client_credentials\n      tokenUrl: ${idp.url}/token\n      clientId: app-1\n      clientSecretEnv: MF_APP_SECRET\n`,
    () => `${freshUser('user')}@${TENANT}`,
    {MF_APP_SECRET: CLIENT_SECRET},
  )
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.ok, 3)
  assert.ok(idp.grants.length > before && idp.grants.slice(before).every((g) => g === 'client_credentials'))
  for (const a of accounts) assert.deepEqual(await snapshot(tenantDest, a.dest), await snapshot(source, a.source))
  assert.ok(!(run.stdout + run.stderr).includes(CLIENT_SECRET))
  // The same token is refused for a mailbox outside the tenant: the passdb checks, not a blanket yes.
  const outside = await batchWithAppCredential(
    tenantDest,
    `      grant: client_credentials\n      tokenUrl: ${idp.url}/token\n      clientId: app-1\n      clientSecretEnv: MF_APP_SECRET\n`,
    () => `${freshUser('user')}@elsewhere.test`,
    {MF_APP_SECRET: CLIENT_SECRET},
  )
  assert.equal(outside.run.code, 1, outside.run.stderr)
  assert.ok(outside.run.json.accounts.every((a: {exitCode: number}) => a.exitCode === 3), outside.run.stdout)
})

test('batch, Google Workspace: one service account key, a JWT with sub = each job\'s user', async () => {
  const keyFile = join(tmp.dir, 'batch-service-key.json')
  const privateKey = serviceKey.privateKey.export({type: 'pkcs8', format: 'pem'}).toString()
  writeFileSync(keyFile, JSON.stringify({type: 'service_account', client_email: SERVICE_EMAIL, private_key: privateKey, token_uri: `${idp.url}/token`}), {mode: 0o600})
  const before = idp.grants.length
  const {accounts, run} = await batchWithAppCredential(dest, `      grant: service_account\n      keyFile: ${keyFile}\n`, () => freshUser('gws'))
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.ok, 3)
  assert.ok(idp.grants.slice(before).filter((g) => g === 'urn:ietf:params:oauth:grant-type:jwt-bearer').length >= 3)
  for (const a of accounts) assert.deepEqual(await snapshot(dest, a.dest), await snapshot(source, a.source))
})

test('check, Microsoft 365 app-only on the source: its header scan logs in on raw connections with the app token too', async () => {
  const users = {source: freshUser('app'), dest: freshUser('app')}
  idp.appUser = users.source
  await seed(dest, users.source, {INBOX: generateMessages(7, {seed: 83}), Archive: generateMessages(2, {seed: 84})})
  const config = join(tmp.dir, `check-${users.source}.yaml`)
  const logFile = join(tmp.dir, `check-${users.source}.log`)
  writeFileSync(
    config,
    `source:\n  url: ${url(dest, users.source)}\n  tls: none\n  authMethod: xoauth2\n  oauth2:\n` +
      `    grant: client_credentials\n    tokenUrl: ${idp.url}/token\n    clientId: app-1\n    clientSecretEnv: MF_APP_SECRET\n` +
      `dest:\n  url: ${url(source, users.dest)}\n  tls: none\n  passwordEnv: MF_APP_DST_PW\n`,
    {mode: 0o600},
  )
  const run = await runCli(['check', '--config', config, '--json', '--debug-imap', '--log-file', logFile], {MF_APP_SECRET: CLIENT_SECRET, MF_APP_DST_PW: source.password})
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.json.totals.toCopy, 9)
  const trace = readFileSync(logFile, 'utf8')
  // The raw connections (imap/wire.ts, tagged P<n>) logged in with the token and scanned; had they
  // failed, the sessions would have scanned instead.
  assert.match(trace, /source#pipe\d+ C: P\d+ AUTHENTICATE OAUTHBEARER/)
  assert.match(trace, /source#pipe\d+ C: P\d+ UID FETCH/)
  assert.ok(!(run.stdout + run.stderr + trace).includes(CLIENT_SECRET))
})
