/**
 * The signing secrets of an account's sends on PostgreSQL. Retirement is stamped, and the
 * rotation overlap compared, on the database's clock (postgres/clock.ts), as every process reads them.
 */
import type { KeyMode, SigningSecret, SigningSecretsStore } from '../store.js';
import { NOW, type PgClock, fromNow, nowParam } from '../postgres/clock.js';
import type { Querier, Transact } from '../postgres/querier.js';

export class PostgresSigningSecrets implements SigningSecretsStore {
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly clock: PgClock,
  ) {}

  async getSigningSecrets(accountId: string, mode: KeyMode, retiredAfter: number): Promise<SigningSecret[]> {
    const cutoff = fromNow(this.clock, retiredAfter);
    return (await this.q(
      `SELECT secret, created_at, retired_at FROM signing_secrets
       WHERE account_id = $1 AND mode = $2 AND (retired_at IS NULL OR retired_at > ${NOW('$3')} + $4)
       ORDER BY (retired_at IS NULL) DESC, created_at DESC, id DESC`,
      // the cut-off on the database's clock (clock.ts): retired_at is stamped on it
      [accountId, mode, cutoff.base, cutoff.offset],
    )) as unknown as SigningSecret[];
  }

  async ensureSigningSecret(accountId: string, mode: KeyMode, candidate: SigningSecret): Promise<SigningSecret> {
    await this.q(
      `INSERT INTO signing_secrets (account_id, mode, secret, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id, mode) WHERE retired_at IS NULL DO NOTHING`,
      [accountId, mode, candidate.secret, candidate.created_at],
    );
    const [current] = await this.q(
      'SELECT secret, created_at, retired_at FROM signing_secrets WHERE account_id = $1 AND mode = $2 AND retired_at IS NULL',
      [accountId, mode],
    );
    return current as unknown as SigningSecret;
  }

  async rotateSigningSecret(accountId: string, mode: KeyMode, next: SigningSecret): Promise<void> {
    await this.tx(async (q) => {
      // retired on the database's clock, as every process compares it (clock.ts)
      await q(`UPDATE signing_secrets SET retired_at = ${NOW('$3')} WHERE account_id = $1 AND mode = $2 AND retired_at IS NULL`, [
        accountId,
        mode,
        nowParam(this.clock, next.created_at),
      ]);
      await q('INSERT INTO signing_secrets (account_id, mode, secret, created_at) VALUES ($1, $2, $3, $4)', [
        accountId,
        mode,
        next.secret,
        next.created_at,
      ]);
    });
  }
}
