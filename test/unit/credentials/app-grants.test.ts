/**
 * App-only grants against a local token endpoint that checks what a provider checks: the grant
 * type, the client, the JWT's RS256 signature (with the public key), its claims and its expiry.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createHash, createPublicKey, createVerify, generateKeyPairSync, X509Certificate} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {clientCredentialsGrant, grantHint, jwtBearerGrant, parseServiceAccountKey} from '../../../src/credentials/app-grants.js'
import {AuthError} from '../../../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'mf-grants-'))
// A certificate as Azure would hold it: openssl makes it, the test knows only its PEM files.
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=mailferry-test', '-days', '2',
  '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {stdio: 'ignore'})
const certificatePem = readFileSync(join(dir, 'cert.pem'), 'utf8')
const certKeyPem = readFileSync(join(dir, 'key.pem'), 'utf8')
const serviceKeys = generateKeyPairSync('rsa', {modulusLength: 2048})
const servicePem = serviceKeys.privateKey.export({type: 'pkcs8', format: 'pem'}).toString()

interface Seen {
  form: URLSearchParams
  header?: Record<string, unknown>
  claims?: Record<string, unknown>
  signatureValid?: boolean
}

let server: Server
let url = ''
const seen: Seen[] = []
/** What the endpoint answers next (status, JSON). */
let answer: {status: number; json: Record<string, unknown>} = {status: 200, json: {}}

function decodeJwt(jwt: string, publicKeyPem: string | Buffer) {
  const [h, c, s] = jwt.split('.')
  const verify = createVerify('RSA-SHA256').update(`${h}.${c}`)
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(c, 'base64url').toString()),
    signatureValid: verify.verify(createPublicKey(publicKeyPem), Buffer.from(s, 'base64url')),
  }
}

before(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const form = new URLSearchParams(body)
      const entry: Seen = {form}
      const jwt = form.get('client_assertion') ?? form.get('assertion')
      if (jwt) {
        const key = form.get('client_assertion') ? new X509Certificate(certificatePem).publicKey.export({type: 'spki', format: 'pem'}) : serviceKeys.publicKey.export({type: 'spki', format: 'pem'})
        Object.assign(entry, decodeJwt(jwt, key))
      }
      seen.push(entry)
      res.writeHead(answer.status, {'content-type': 'application/json'})
      res.end(JSON.stringify(answer.json))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as {port: number}).port}/tenant/oauth2/v2.0/token`
})
after(() => {
  server.close()
  rmSync(dir, {recursive: true, force: true})
})

describe('app-only OAuth2 grants', () => {
  it('client credentials with a secret: the form a provider expects, the token and its expiry', async () => {
    answer = {status: 200, json: {access_token: 'at-secret', expires_in: 3599, token_type: 'Bearer'}}
    const now = Date.UTC(2026, 11, 3, 12)
    const token = await clientCredentialsGrant({tokenUrl: url, clientId: 'app-1', scope: 'https://outlook.office365.com/.default', clientSecret: 's3cret'}, now)
    assert.deepEqual(token, {accessToken: 'at-secret', expiresAt: now + 3_599_000})
    const form = seen.at(-1)!.form
    assert.equal(form.get('grant_type'), 'client_credentials')
    assert.equal(form.get('client_id'), 'app-1')
    assert.equal(form.get('client_secret'), 's3cret')
    assert.equal(form.get('scope'), 'https://outlook.office365.com/.default')
  })

  it('client credentials with a certificate: a JWT assertion signed by its key, thumbprints and claims', async () => {
    answer = {status: 200, json: {access_token: 'at-cert', expires_in: 3600}}
    const now = Date.now()
    await clientCredentialsGrant({tokenUrl: url, clientId: 'app-2', scope: 'x/.default', certificate: {certificatePem, privateKeyPem: certKeyPem}}, now)
    const entry = seen.at(-1)!
    assert.equal(entry.form.get('client_secret'), null, 'no secret travels')
    assert.equal(entry.form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    assert.equal(entry.signatureValid, true, 'signed by the certificate key')
    const raw = new X509Certificate(certificatePem).raw
    assert.equal(entry.header!.alg, 'RS256')
    assert.equal(entry.header!['x5t#S256'], createHash('sha256').update(raw).digest('base64url'))
    assert.equal(entry.header!.x5t, createHash('sha1').update(raw).digest('base64url'))
    const claims = entry.claims!
    assert.equal(claims.iss, 'app-2')
    assert.equal(claims.sub, 'app-2')
    assert.equal(claims.aud, url)
    assert.equal(typeof claims.jti, 'string')
    assert.equal((claims.exp as number) - (claims.iat as number), 300)
    assert.ok(Math.abs((claims.iat as number) - now / 1000) < 2)
  })

  it('service account with delegation: JWT bearer with sub = the user, signed by the service key', async () => {
    answer = {status: 200, json: {access_token: 'at-google', expires_in: 3600}}
    const key = parseServiceAccountKey(JSON.stringify({client_email: 'migrator@proj.iam.gserviceaccount.com', private_key: servicePem, token_uri: url}), 'key.json')
    const token = await jwtBearerGrant({...key, subject: 'alice@example.com', scope: 'https://mail.google.com/'})
    assert.equal(token.accessToken, 'at-google')
    const entry = seen.at(-1)!
    assert.equal(entry.form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer')
    assert.equal(entry.signatureValid, true)
    assert.deepEqual(
      {iss: entry.claims!.iss, sub: entry.claims!.sub, scope: entry.claims!.scope, aud: entry.claims!.aud},
      {iss: 'migrator@proj.iam.gserviceaccount.com', sub: 'alice@example.com', scope: 'https://mail.google.com/', aud: url},
    )
    assert.equal((entry.claims!.exp as number) - (entry.claims!.iat as number), 3600)
  })

  it('a refused grant is an AuthError with the provider text (first line) and a fitting hint', async () => {
    answer = {status: 400, json: {error: 'invalid_client', error_description: "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 123"}}
    await assert.rejects(
      clientCredentialsGrant({tokenUrl: url, clientId: 'app-1', scope: 's', clientSecret: 'wrong'}),
      (error: unknown) =>
        error instanceof AuthError &&
        error.message.endsWith('refused the grant: invalid_client: AADSTS7000215: Invalid client secret provided.') &&
        /client secret is wrong or expired/.test(error.hint ?? ''),
    )
    answer = {status: 401, json: {error: 'unauthorized_client', error_description: 'Client is unauthorized to retrieve access tokens using this method'}}
    const key = parseServiceAccountKey(JSON.stringify({client_email: 'm@p.iam', private_key: servicePem, token_uri: url}), 'key.json')
    await assert.rejects(jwtBearerGrant({...key, subject: 'bob@example.com', scope: 's'}), (error: unknown) =>
      error instanceof AuthError && /domain-wide delegation/.test(error.hint ?? ''),
    )
  })

  it('hints name the usual causes', () => {
    assert.match(grantHint('invalid_request', 'AADSTS90002: Tenant not found'), /tenant/)
    assert.match(grantHint('unauthorized_client', 'AADSTS700016: Application with identifier was not found'), /client id/)
    assert.match(grantHint('invalid_grant', 'Invalid email or User ID'), /user/)
  })

  it('a key file without a private key is refused in words', () => {
    assert.throws(() => parseServiceAccountKey('{"client_email": "x"}', 'key.json'), /key.json: a service-account key needs client_email and private_key/)
    assert.throws(() => parseServiceAccountKey('not json', 'key.json'), /not a JSON service-account key/)
  })
})

describe('app grant settings', () => {
  it('client credentials: a tenant gives Microsoft endpoint and scope; one credential, both certificate files', async () => {
    const {appGrantSource, validateAppGrant} = await import('../../../src/config/app-auth.js')
    const input = validateAppGrant({grant: 'client_credentials', tenant: 'contoso.onmicrosoft.com', clientId: 'c', clientSecretEnv: 'S'}, 'dest')
    assert.deepEqual(appGrantSource(input, (p) => p), {
      kind: 'client_credentials',
      tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
      clientId: 'c',
      scope: 'https://outlook.office365.com/.default',
      secret: {kind: 'env', name: 'S'},
    })
    assert.throws(() => validateAppGrant({grant: 'client_credentials', tenant: 't', clientId: 'c'}, 'dest'), /dest\.oauth2: give one client credential/)
    assert.throws(() => validateAppGrant({grant: 'client_credentials', tenant: 't', clientId: 'c', clientSecretEnv: 'S', certificateFile: 'c.pem', privateKeyFile: 'k.pem'}, 'dest'), /give one client credential/)
    assert.throws(() => validateAppGrant({grant: 'client_credentials', tenant: 't', clientId: 'c', certificateFile: 'c.pem'}, 'dest'), /needs both certificateFile and privateKeyFile/)
    assert.throws(() => validateAppGrant({grant: 'client_credentials', clientId: 'c', clientSecretEnv: 'S'}, 'dest'), /exactly one of tenant and tokenUrl/)
    assert.throws(() => validateAppGrant({grant: 'client_credentials', tenant: 't', clientId: 'c', clientSecretEnv: 'S', refreshTokenEnv: 'R'}, 'dest'), /dest\.oauth2\.refreshTokenEnv: not a key of grant client_credentials/)
  })

  it('service account: the key file is needed, Google mail scope by default', async () => {
    const {appGrantSource, validateAppGrant} = await import('../../../src/config/app-auth.js')
    assert.deepEqual(appGrantSource(validateAppGrant({grant: 'service_account', keyFile: 'k.json'}, 'source'), (p) => `/cfg/${p}`), {
      kind: 'service_account',
      keyFile: '/cfg/k.json',
      subject: undefined,
      scope: 'https://mail.google.com/',
    })
    assert.throws(() => validateAppGrant({grant: 'service_account'}, 'source'), /source\.oauth2\.keyFile: missing/)
  })
})
