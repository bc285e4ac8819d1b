"""A PostgreSQL 15 server of the tests' own: Debian's binaries, `initdb` into a temporary folder and `pg_ctl`, run
as the `postgres` user, on 127.0.0.1 and a free port (never the system's cluster or service). The gateway's role
logs in with a SCRAM password, so the backplane's password handling is exercised too."""
import shutil
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "wsgate"
PASSWORD = "backplane-test-password"
DATABASE = "wsgate"


def as_postgres(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], capture_output=True, text=True, **kw)


class Postgres:
    def __init__(self, port: int, log: Path):
        self.port = port
        self.saved_log = log  # where the server's log is copied at the end (it writes into its own folder)
        self.root = Path(tempfile.mkdtemp(prefix="wsgate-pg-"))
        self.log = self.root / "postgres.log"
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        """The backplane URL without the password (the tests give it in a password file)."""
        return f"postgres://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def init(self):
        pwfile = self.root / "superuser.pw"
        pwfile.write_text("superuser-test-password\n")
        shutil.chown(pwfile, "postgres", "postgres")
        self.socket_dir.mkdir()
        shutil.chown(self.socket_dir, "postgres", "postgres")
        done = as_postgres(BIN / "initdb", "-D", self.data, "-U", "postgres", "--pwfile", pwfile,
                           "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        assert done.returncode == 0, done.stdout + done.stderr
        self.start()
        self.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {USER}")

    def start(self):
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        done = as_postgres(BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        assert done.returncode == 0, done.stdout + done.stderr + log

    def stop(self, mode: str = "fast"):
        as_postgres(BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = as_postgres(BIN / "psql", "-h", self.socket_dir, "-p", self.port, "-U", "postgres", "-d", database,
                           "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def destroy(self):
        self.stop("immediate")
        if self.log.exists():
            self.saved_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log, self.saved_log)
        shutil.rmtree(self.root, ignore_errors=True)
