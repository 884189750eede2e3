/** The signing secrets of an account's sends (per mode) and their rotation, on the embedded store. */
import type { SqliteConnection } from '../sqlite/connection.js';
import type { KeyMode, SigningSecret, SigningSecretsStore } from '../store.js';

export class SqliteSigningSecrets implements SigningSecretsStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(private readonly conn: SqliteConnection) {
    this.statements = conn.prepared((db) => ({
      signingSecrets: db.prepare(
        `SELECT secret, created_at, retired_at FROM signing_secrets
         WHERE account_id = ? AND mode = ? AND (retired_at IS NULL OR retired_at > ?)
         ORDER BY (retired_at IS NULL) DESC, created_at DESC, rowid DESC`,
      ),
      currentSecret: db.prepare(
        `SELECT secret, created_at, retired_at FROM signing_secrets
         WHERE account_id = ? AND mode = ? AND retired_at IS NULL`,
      ),
      insertSecret: db.prepare(
        `INSERT INTO signing_secrets (account_id, mode, secret, created_at, retired_at)
         VALUES (:account_id, :mode, :secret, :created_at, NULL)`,
      ),
      retireSecret: db.prepare(
        `UPDATE signing_secrets SET retired_at = :at
         WHERE account_id = :account_id AND mode = :mode AND retired_at IS NULL`,
      ),
    }));
  }

  private get s() {
    return this.statements();
  }

  async getSigningSecrets(accountId: string, mode: KeyMode, retiredAfter: number): Promise<SigningSecret[]> {
    return this.s.signingSecrets.all(accountId, mode, retiredAfter) as SigningSecret[];
  }

  async ensureSigningSecret(accountId: string, mode: KeyMode, candidate: SigningSecret): Promise<SigningSecret> {
    return this.conn.db.transaction(() => {
      const current = this.s.currentSecret.get(accountId, mode) as SigningSecret | undefined;
      if (current) return current;
      this.s.insertSecret.run({ account_id: accountId, mode, secret: candidate.secret, created_at: candidate.created_at });
      return { secret: candidate.secret, created_at: candidate.created_at, retired_at: null };
    }).immediate();
  }

  async rotateSigningSecret(accountId: string, mode: KeyMode, next: SigningSecret): Promise<void> {
    this.conn.db.transaction(() => {
      this.s.retireSecret.run({ account_id: accountId, mode, at: next.created_at });
      this.s.insertSecret.run({ account_id: accountId, mode, secret: next.secret, created_at: next.created_at });
    }).immediate();
  }
}
