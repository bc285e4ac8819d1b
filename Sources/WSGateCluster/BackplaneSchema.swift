/// The backplane's tables and the one function every node writes through, created by the first node that
/// connects (idempotent; nodes starting together take an advisory lock so only one creates them).
///
/// A row is a batch, not a message: PostgreSQL's cost is per row and per statement (an insert, its index entries,
/// every node's read of it), so one row per message made PostgreSQL and the nodes' row decoding the limit of the
/// three-node benchmark; a batch of the messages a node gathered in a couple of milliseconds costs the same as one.
///
/// Ordering: readers take batches `id > cursor` in id order. Ids come from a sequence, and concurrent transactions
/// could commit out of id order — a reader would then pass over a row that becomes visible after it read a larger
/// id. So every write takes one transaction-scoped advisory lock first: writes are serialised, each is visible
/// before the next takes its id, and "id > cursor" never skips. The lock also makes `messages_through` (the
/// count of messages ever stored, through this batch) exact, which is what a gap is measured in.
///
/// The tables of the first release (`wsgate_backplane`, `wsgate_backplane_pruned`, one row per message) are not
/// used any more; a database that has them can drop them.
enum BackplaneSchema {
    static let channel = "wsgate_backplane"
    static let writeLock = 7_346_521
    static let setupLock = 7_346_520
    /// Held by the node pruning this round (`pg_try_advisory_xact_lock`: the others skip it).
    static let pruneLock = 7_346_522

    static let setup = """
        DO $setup$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(setupLock));
            -- One row per batch a node wrote: its messages in order (BackplaneBatchCodec), the publisher's process
            -- and the number of its first message, and the count of messages stored ever through this batch.
            CREATE TABLE IF NOT EXISTS wsgate_backplane_batches (
                id bigserial PRIMARY KEY,
                origin text NOT NULL,
                incarnation bigint NOT NULL,
                first_seq bigint NOT NULL,
                messages bigint NOT NULL,
                messages_through bigint NOT NULL,
                body bytea NOT NULL,
                stored_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            -- Bodies uncompressed: a batch is over TOAST's 2 KB threshold at a few dozen messages, and pglz on
            -- every write and on every node's read cost PostgreSQL more than the bytes it saved.
            ALTER TABLE wsgate_backplane_batches ALTER COLUMN body SET STORAGE EXTERNAL;
            CREATE INDEX IF NOT EXISTS wsgate_backplane_batches_stored_at ON wsgate_backplane_batches (stored_at);
            -- How far pruning went: the highest batch id and message count deleted. A node whose cursor is below
            -- it missed batches (a gap, reported with the exact number of messages).
            CREATE TABLE IF NOT EXISTS wsgate_backplane_horizon (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                through bigint NOT NULL,
                messages_through bigint NOT NULL
            );
            INSERT INTO wsgate_backplane_horizon VALUES (true, 0, 0) ON CONFLICT DO NOTHING;
            CREATE OR REPLACE FUNCTION wsgate_backplane_publish_batch(
                node text, process bigint, first_seq bigint, messages bigint, body bytea
            ) RETURNS bigint LANGUAGE plpgsql AS $publish$
            DECLARE
                before bigint;
                new_id bigint;
            BEGIN
                PERFORM pg_advisory_xact_lock(\(writeLock));
                SELECT coalesce((SELECT b.messages_through FROM wsgate_backplane_batches b ORDER BY b.id DESC LIMIT 1),
                                (SELECT h.messages_through FROM wsgate_backplane_horizon h))
                    INTO before;
                INSERT INTO wsgate_backplane_batches (origin, incarnation, first_seq, messages, messages_through, body)
                    VALUES (node, process, first_seq, messages, before + messages, body)
                    RETURNING id INTO new_id;
                PERFORM pg_notify('\(channel)', new_id::text);
                RETURN new_id;
            END
            $publish$;
        END
        $setup$
        """

    /// Batches per page the reader asks for. With a batch at most `BackplaneOutbox.Limits.maxBatchBytes` (or one
    /// larger message alone), a page holds at most 32 MiB plus such singles.
    static let fetchLimit = 32

    /// Where the table ends (the last batch's id and message count, or the horizon's when it is empty) and how
    /// far pruning went.
    static let position = """
        SELECT coalesce((SELECT b.id FROM wsgate_backplane_batches b ORDER BY b.id DESC LIMIT 1), h.through)::int8,
               coalesce((SELECT b.messages_through FROM wsgate_backplane_batches b ORDER BY b.id DESC LIMIT 1),
                        h.messages_through)::int8,
               h.through::int8, h.messages_through::int8
        FROM wsgate_backplane_horizon h
        """
}
