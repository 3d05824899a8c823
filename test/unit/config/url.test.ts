import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {ConfigError} from '../../../src/errors.js'
import {parseImapUrl, portOrDefault, type UrlContext} from '../../../src/config/url.js'
import {ConfigKeyError} from '../../../src/config/validate.js'

const ctx: UrlContext = {label: '--source', secretAdvice: 'use --source-password-env or --source-password-file'}
const SECRET = 'Zq9-Wombat-Secret!'

function parseError(text: string, context: UrlContext = ctx): ConfigError {
  try {
    parseImapUrl(text, context)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail(`expected ${text} to be refused`)
}

describe('parseImapUrl', () => {
  it('imaps:// is implicit TLS, port optional', () => {
    assert.deepEqual(parseImapUrl('imaps://alice@mail.example.com', ctx), {host: 'mail.example.com', tls: 'implicit', user: 'alice'})
    assert.deepEqual(parseImapUrl('imaps://alice@mail.example.com:10993', ctx), {
      host: 'mail.example.com',
      port: 10993,
      tls: 'implicit',
      user: 'alice',
    })
  })

  it('imap:// is STARTTLS', () => {
    assert.deepEqual(parseImapUrl('imap://bob@h:1143', ctx), {host: 'h', port: 1143, tls: 'starttls', user: 'bob'})
  })

  it('default ports follow the TLS mode', () => {
    assert.equal(portOrDefault(undefined, 'implicit'), 993)
    assert.equal(portOrDefault(undefined, 'starttls'), 143)
    assert.equal(portOrDefault(undefined, 'none'), 143)
    assert.equal(portOrDefault(2000, 'implicit'), 2000)
  })

  it('the scheme is case-insensitive and a trailing slash is fine', () => {
    assert.equal(parseImapUrl('IMAPS://a@h/', ctx).tls, 'implicit')
  })

  it('percent-decodes the user', () => {
    assert.equal(parseImapUrl('imaps://alice%40example.com@mail.example.com', ctx).user, 'alice@example.com')
    assert.equal(parseImapUrl('imaps://a%25b@h', ctx).user, 'a%b')
  })

  it('takes the last @ as the end of the user', () => {
    const url = parseImapUrl('imaps://alice@example.com@mail.example.com:993', ctx)
    assert.equal(url.user, 'alice@example.com')
    assert.equal(url.host, 'mail.example.com')
  })

  it('accepts IPv6 hosts in brackets and returns them bare', () => {
    assert.deepEqual(parseImapUrl('imap://u@[::1]:1143', ctx), {host: '::1', port: 1143, tls: 'starttls', user: 'u'})
    assert.equal(parseImapUrl('imaps://u@[2001:db8::5]', ctx).host, '2001:db8::5')
  })

  it('refuses IPv6 hosts without brackets', () => {
    assert.match(parseError('imap://u@::1:143').message, /^--source: .*brackets/)
  })

  it('refuses a password and names the flags to use instead, without echoing it', () => {
    for (const text of [`imap://u:${SECRET}@h`, `imaps://u:${SECRET}@h:993/x`, 'imap://u:@h', `imap://u:${SECRET}@h:notaport`]) {
      const error = parseError(text)
      assert.equal(error.message, '--source: do not put passwords in URLs; use --source-password-env or --source-password-file')
      assert.ok(!error.message.includes(SECRET))
    }
  })

  it('refuses other schemes', () => {
    assert.match(parseError('https://u@h').message, /^--source: unsupported scheme "https:\/\/"/)
    assert.match(parseError('pop3://u@h').message, /unsupported scheme/)
  })

  it('refuses a value that is not a URL', () => {
    assert.match(parseError('mail.example.com').message, /^--source: expected imaps:\/\/user@host/)
    assert.match(parseError('').message, /^--source: /)
  })

  it('refuses a missing user', () => {
    assert.match(parseError('imaps://mail.example.com').message, /^--source: no user/)
    assert.match(parseError('imaps://@mail.example.com').message, /^--source: no user/)
    assert.match(parseError('imaps://%20@mail.example.com').message, /^--source: no user/)
  })

  it('refuses a missing host', () => {
    assert.match(parseError('imaps://alice@').message, /^--source: no host/)
    assert.match(parseError('imaps://alice@:993').message, /^--source: no host/)
    assert.match(parseError('imaps://alice@[]').message, /^--source: no host/)
  })

  it('refuses bad ports', () => {
    assert.match(parseError('imaps://a@h:abc').message, /^--source port: expected an integer 1-65535, got "abc" \(string\)$/)
    assert.match(parseError('imaps://a@h:0').message, /got 0 \(number\)/)
    assert.match(parseError('imaps://a@h:70000').message, /got 70000 \(number\)/)
    assert.match(parseError('imaps://a@h:').message, /got "" \(string\)/)
  })

  it('refuses a path, query or fragment (mailferry copies every folder)', () => {
    assert.match(parseError('imaps://a@h/INBOX').message, /unexpected "\/INBOX"/)
    assert.match(parseError('imaps://a@h?x=1').message, /unexpected/)
    assert.match(parseError('imaps://a@h#frag').message, /unexpected/)
  })

  it('refuses bad percent-encoding, ;AUTH= and bad host characters', () => {
    assert.match(parseError('imaps://a%zz@h').message, /percent-encoded/)
    assert.match(parseError('imaps://a;AUTH=PLAIN@h').message, /AUTH/)
    assert.match(parseError('imaps://a@h_st name').message, /host name/)
    assert.match(parseError('imaps://a@h%41').message, /host name/)
  })

  it('carries the label and key path for YAML keys', () => {
    const error = parseError('ftp://a@h', {label: 'dest.url', secretAdvice: 'x', keyPath: ['dest', 'url']})
    assert.ok(error instanceof ConfigKeyError)
    assert.deepEqual(error.keyPath, ['dest', 'url'])
    assert.match(error.message, /^dest\.url: /)
  })
})

describe('parseImapUrl: passwords with URL delimiters', () => {
  it('a password containing / ? # is still recognised and never echoed', () => {
    for (const pw of ['ab/cd', 'ab?cd', 'ab#cd', 'a/b?c#d@e']) {
      const error = parseError(`imap://alice:${pw}@host`)
      assert.equal(error.message, '--source: do not put passwords in URLs; use --source-password-env or --source-password-file')
    }
  })

  it('an @ after the host is not echoed', () => {
    const error = parseError('imap://alice@host/x@y')
    assert.ok(!error.message.includes('x@y'))
  })
})
