"""azd postprovision hook: the identity's Postgres role, its grants and the pg_trgm extension.

Runs as the Entra administrator (whoever ran azd, signed in through azd) with an Entra token as the password.
The deployer's address is admitted by a firewall rule only while this runs. Safe to run again.
"""

import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import psycopg2
from psycopg2 import sql

from infra.hooks.arm import Arm, ArmError, azd_token, required, resource_group_path, signed_in_arm

POSTGRES_API = "2024-08-01"
POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
# Extensions the migrations create; each must also be in the server's azure.extensions (infra/modules/postgres.bicep).
EXTENSIONS = ("pg_trgm",)

Connect = Callable[[str], Any]


def create_principal(connect: Connect, identity: str) -> bool:
    """Create the managed identity's role in the postgres database; False when it already exists."""
    connection = connect("postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (identity,))
            if cursor.fetchone():
                return False
            # Azure's function: a role that logs in with the identity's Entra tokens. Not admin, no MFA.
            cursor.execute("SELECT * FROM pgaadauth_create_principal(%s, false, false)", (identity,))
            return True
    finally:
        connection.close()


def grant_statements(identity: str, database: str) -> list[sql.Composed]:
    """What the app and its migrations need, nothing more: connect, and create and use objects in public.

    Tables, indexes and sequences the migration job creates are owned by this role, which is all the
    privilege web and worker need on them.
    """
    role, db = sql.Identifier(identity), sql.Identifier(database)
    statements = [sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)) for name in EXTENSIONS]
    statements.append(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role))
    statements.append(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
    return statements


def grant(connect: Connect, identity: str, database: str) -> None:
    connection = connect(database)
    try:
        with connection, connection.cursor() as cursor:
            for statement in grant_statements(identity, database):
                cursor.execute(statement)
    finally:
        connection.close()


def set_up_role(connect: Connect, identity: str, database: str) -> None:
    created = create_principal(connect, identity)
    print(f"postgres: role {identity} {'created' if created else 'exists'}", flush=True)
    grant(connect, identity, database)
    print(f"postgres: {identity} may connect to {database} and create in schema public", flush=True)


def public_ip() -> str:
    with urllib.request.urlopen("https://api.ipify.org", timeout=10) as response:
        return response.read().decode().strip()


def firewall_rule_path(server: str, ip: str) -> str:
    name = "azd-deployer-" + ip.replace(".", "-").replace(":", "-")
    return f"{resource_group_path()}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{server}/firewallRules/{name}"


def main() -> int:
    server, host = required("POSTGRES_SERVER_NAME"), required("POSTGRES_HOST")
    admin, database, identity = required("POSTGRES_ADMIN_NAME"), required("POSTGRES_DB"), required("IDENTITY_NAME")
    token = azd_token(POSTGRES_SCOPE)

    def connect(dbname: str) -> Any:
        return psycopg2.connect(
            host=host, dbname=dbname, user=admin, password=token(), sslmode="require", connect_timeout=15
        )

    arm: Arm = signed_in_arm()
    ip = public_ip()
    rule = firewall_rule_path(server, ip)
    try:
        arm.put_and_wait(rule, POSTGRES_API, {"properties": {"startIpAddress": ip, "endIpAddress": ip}})
        set_up_role(connect, identity, database)
    except (ArmError, psycopg2.Error) as exc:
        print(f"postgres: could not set up the role of {identity}: {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            arm.delete_and_wait(rule, POSTGRES_API)
        except ArmError as exc:
            print(f"postgres: remove the firewall rule for {ip} by hand: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
