/**
 * A local HTTP endpoint that answers form POSTs with JSON: the identity providers of the OAuth2 tests
 * (token requests, RFC 7662 introspection for Dovecot's oauth2 passdb).
 */
import {createServer, type Server} from 'node:http'

export type FormHandler = (path: string, form: URLSearchParams) => {status: number; json: unknown}

export interface FormEndpoint {
  /** http://127.0.0.1:PORT */
  url: string
  close(): Promise<void>
}

export async function startFormEndpoint(handle: FormHandler): Promise<FormEndpoint> {
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const {status, json} = handle(req.url ?? '/', new URLSearchParams(body))
      res.writeHead(status, {'content-type': 'application/json'})
      res.end(JSON.stringify(json))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as {port: number}).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
