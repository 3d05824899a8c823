/**
 * Up to N authenticated sessions to one account, lent out one task at a time.
 * A session that is no longer usable (dropped, BYE) is replaced on the next loan.
 */
import type {ImapClient} from './session.js'

export interface PoolOptions {
  size: number
  connect: () => Promise<ImapClient>
}

interface Waiter {
  preferMailbox?: string
  resolve: (client: ImapClient) => void
  reject: (error: unknown) => void
}

export class ConnectionPool {
  readonly #size: number
  readonly #connect: () => Promise<ImapClient>
  readonly #idle: ImapClient[] = []
  readonly #waiters: Waiter[] = []
  #open = 0
  #closed = false

  constructor(options: PoolOptions) {
    this.#size = Math.max(1, options.size)
    this.#connect = options.connect
  }

  /** Open the first session now, so bad credentials fail before any work starts. */
  async warmUp(): Promise<ImapClient> {
    const client = await this.#create()
    this.#release(client)
    return client
  }

  /**
   * Run fn with a session to ourselves. preferMailbox picks an idle session that has that folder
   * selected already, which saves a SELECT.
   */
  async use<T>(fn: (client: ImapClient) => Promise<T>, preferMailbox?: string): Promise<T> {
    const client = await this.#acquire(preferMailbox)
    try {
      return await fn(client)
    } finally {
      this.#release(client)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    const clients = this.#idle.splice(0)
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('connection pool closed'))
    await Promise.allSettled(
      clients.map(async (client) => {
        if (client.usable) await client.logout()
        else client.close()
      }),
    )
  }

  async #create(): Promise<ImapClient> {
    this.#open++
    try {
      return await this.#connect()
    } catch (error) {
      this.#open--
      throw error
    }
  }

  async #acquire(preferMailbox?: string): Promise<ImapClient> {
    if (this.#closed) throw new Error('connection pool closed')
    while (this.#idle.length > 0) {
      const index = Math.max(0, preferMailbox ? this.#idle.findIndex((c) => c.mailbox && c.mailbox.path === preferMailbox) : 0)
      const [client] = this.#idle.splice(index, 1)
      if (client.usable) return client
      this.#open--
      client.close()
    }
    if (this.#open < this.#size) return this.#create()
    return new Promise<ImapClient>((resolve, reject) => this.#waiters.push({preferMailbox, resolve, reject}))
  }

  #release(client: ImapClient): void {
    if (!client.usable) {
      this.#open--
      client.close()
      const waiter = this.#waiters.shift()
      if (waiter) this.#acquire(waiter.preferMailbox).then(waiter.resolve, waiter.reject)
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter) waiter.resolve(client)
    else this.#idle.push(client)
  }
}
