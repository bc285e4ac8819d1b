/// The backplane's tables and the one function every node writes through, created by the first node that
/// connects (idempotent; nodes starting together take an advisory lock so only one creates them).
///
/// Ordering: readers take rows `id > cursor` in id order. Ids come from a sequence, and concurrent transactions
/// could commit out of id order — a reader would then pass over a row that becomes visible after it read a larger
/// id. So every write takes one transaction-scoped advisory lock first: writes are serialised, each is visible
/// before the next takes its ids, and "id > cursor" never skips. Batching (one call per up to a thousand
/// messages) keeps that one lock from limiting the rate.
enum BackplaneSchema {
    static let channel = "wsgate_backplane"
    static let writeLock = 7_346_521
    static let setupLock = 7_346_520

    static let setup = """
        DO $setup$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(setupLock));
            CREATE TABLE IF NOT EXISTS wsgate_backplane (
                id bigserial PRIMARY KEY,
                origin text NOT NULL,
                incarnation bigint NOT NULL,
                seq bigint NOT NULL,
                service text NOT NULL,
                topic text NOT NULL,
                is_binary boolean NOT NULL,
                payload bytea NOT NULL,
                stored_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE INDEX IF NOT EXISTS wsgate_backplane_stored_at ON wsgate_backplane (stored_at);
            -- The highest id ever pruned: a node whose cursor is below it missed rows (a gap, reported).
            CREATE TABLE IF NOT EXISTS wsgate_backplane_pruned (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                through bigint NOT NULL
            );
            INSERT INTO wsgate_backplane_pruned VALUES (true, 0) ON CONFLICT DO NOTHING;
            CREATE OR REPLACE FUNCTION wsgate_backplane_publish(
                node text, process bigint, seqs bigint[], services text[], topics text[], binaries boolean[],
                payloads bytea[]
            ) RETURNS bigint LANGUAGE plpgsql AS $publish$
            DECLARE
                last_id bigint;
            BEGIN
                PERFORM pg_advisory_xact_lock(\(writeLock));
                INSERT INTO wsgate_backplane (origin, incarnation, seq, service, topic, is_binary, payload)
                    SELECT node, process, u.q, u.s, u.t, u.b, u.p
                    FROM unnest(seqs, services, topics, binaries, payloads) WITH ORDINALITY AS u(q, s, t, b, p, n)
                    ORDER BY u.n;
                SELECT currval(pg_get_serial_sequence('wsgate_backplane', 'id')) INTO last_id;
                PERFORM pg_notify('\(channel)', last_id::text);
                RETURN last_id;
            END
            $publish$;
        END
        $setup$
        """

    /// Rows after a cursor, oldest first.
    static let fetchLimit = 1000

    /// The last id written and the highest id pruned (both 0 on a new table).
    static let position = """
        SELECT coalesce((SELECT max(id) FROM wsgate_backplane), 0)::int8,
               (SELECT through FROM wsgate_backplane_pruned)::int8
        """
}
