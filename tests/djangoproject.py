"""Real Django projects in real git repositories, for the tests.

Migrations are written as source text, the way `makemigrations` would, and
run by real Django in a subprocess; git is the real `git` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

MIGRAIL_ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(GIT_ENV)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("MIGRAIL_SKIP", None)
    env.pop("CI", None)  # the projects under test are a developer's checkout, not CI
    env.update(extra or {})
    return env


def git(
    cwd: Path,
    *args: str,
    check: bool = True,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=run_env(env), capture_output=True, text=True, input=stdin
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def migration_source(
    deps: list[tuple[str, str]] | None = None,
    operations: str = "",
    *,
    extra: str = "",
    header: str = "",
) -> str:
    dep_lines = "".join(f"        ({a!r}, {n!r}),\n" for a, n in deps or [])
    ops = textwrap.indent(textwrap.dedent(operations).strip(), " " * 8)
    return (
        f"from django.db import migrations, models\n{header}\n\n"
        "class Migration(migrations.Migration):\n"
        f"{extra}"
        f"    dependencies = [\n{dep_lines}    ]\n\n"
        f"    operations = [\n{ops + chr(10) if ops else ''}    ]\n"
    )


def create_model(model: str, *fields: str) -> str:
    columns = "".join(f"        ({f!r}, models.IntegerField(default=0)),\n" for f in fields)
    return (
        f"migrations.CreateModel(\n    name={model!r},\n    fields=[\n"
        f"        ('id', models.AutoField(primary_key=True)),\n{columns}    ],\n),"
    )


def add_field(model: str, name: str) -> str:
    return (
        f"migrations.AddField(model_name={model!r}, name={name!r}, "
        "field=models.IntegerField(default=0)),"
    )


@dataclass
class DjangoProject:
    root: Path
    apps: list[str] = field(default_factory=list)
    database: dict[str, str] = field(default_factory=dict)
    settings_extra: str = ""
    env: dict[str, str] = field(default_factory=dict)  # every subprocess's, git hooks' included

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / ".git").exists():
            git(self.root, "init", "-q", "-b", "main")
        self.write(".gitignore", "*.sqlite3\n__pycache__/\n.venv/\n")
        self.write("manage.py", MANAGE_PY)
        self.write("project/__init__.py", "")
        self.write_settings()

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def read(self, path: str) -> str:
        return (self.root / path).read_text()

    def write_settings(self, extra: str = "") -> None:
        database = self.database or {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(self.root / "db.sqlite3"),
        }
        shim = (
            "import pymysql\npymysql.install_as_MySQLdb()\n"
            if "mysql" in database["ENGINE"]
            else ""
        )
        self.write(
            "project/settings.py",
            f"import os\n{shim}SECRET_KEY = 'test'\nDEBUG = True\nUSE_TZ = True\n"
            f"INSTALLED_APPS = {self.apps!r}\n"
            f"DATABASES = {{'default': {database!r}}}\n"
            "DATABASES['default']['NAME'] = os.environ.get('TEST_DB_NAME', DATABASES['default']['NAME'])\n"
            "DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'\n" + self.settings_extra + extra,
        )

    def add_app(
        self, label: str, *, path: str | None = None, config_label: str | None = None
    ) -> str:
        """Create an app package with an empty migrations package; returns its module path."""
        directory = path or label
        self.write(f"{directory}/__init__.py", "")
        self.write(f"{directory}/migrations/__init__.py", "")
        module = directory.replace("/", ".")
        if config_label:
            self.write(
                f"{directory}/apps.py",
                "from django.apps import AppConfig\n\n\n"
                f"class Config(AppConfig):\n    name = {module!r}\n    label = {config_label!r}\n",
            )
        self.apps.append(module)
        self.write_settings()
        return module

    def linear_app(self, label: str, *later: str, max_migration: bool = True) -> None:
        """An app with `0001_initial` (model Item) and then one AddField migration per name."""
        self.add_app(label)
        self.migration(label, "0001_initial", migration_source([], create_model("Item")))
        parent = "0001_initial"
        for name in later:
            self.migration(
                label, name, migration_source([(label, parent)], add_field("item", name[5:]))
            )
            parent = name
        if max_migration:
            self.write(f"{label}/migrations/max_migration.txt", f"{parent}\n")

    def use_this_repository_in_pre_commit(self, *hook_ids: str, hook_types: str = "") -> None:
        """A .pre-commit-config.yaml using migrail's own repository at its HEAD commit."""
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=MIGRAIL_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        hooks = "".join(f"      - id: {hook_id}\n" for hook_id in hook_ids)
        types = f"default_install_hook_types: [{hook_types}]\n" if hook_types else ""
        self.write(
            ".pre-commit-config.yaml",
            f"{types}repos:\n  - repo: {MIGRAIL_ROOT}\n    rev: {rev}\n    hooks:\n{hooks}",
        )

    def install_pre_commit(self, home: Path, *hook_types: str) -> dict[str, str]:
        """`pre-commit install` for this project; returns the environment git must run with."""
        env = run_env({**self.env, "PRE_COMMIT_HOME": str(home)})
        types = [arg for hook_type in hook_types for arg in ("--hook-type", hook_type)]
        proc = subprocess.run(
            [sys.executable, "-m", "pre_commit", "install", *types],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return env

    def migration(self, app_dir: str, name: str, source: str) -> Path:
        return self.write(f"{app_dir}/migrations/{name}.py", source)

    def git(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        return git(self.root, *args, check=check, stdin=stdin, env=self.env)

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def migrail(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "migrail", *args],
            cwd=self.root,
            env=run_env({**self.env, **(env or {})}),
            capture_output=True,
            text=True,
            input=stdin,
        )

    def python(
        self, code: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        path = os.pathsep.join(filter(None, [str(self.root), self.env.get("PYTHONPATH")]))
        extra = {**self.env, "DJANGO_SETTINGS_MODULE": "project.settings", "PYTHONPATH": path}
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.root,
            env=run_env({**extra, **(env or {})}),
            capture_output=True,
            text=True,
        )

    def manage(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=run_env({**self.env, **(env or {})}),
            capture_output=True,
            text=True,
        )

    def schema(self, db_name: str | None = None) -> dict[str, object]:
        """Tables with their columns, and the django_migrations rows, as the database has them."""
        env = {"TEST_DB_NAME": db_name} if db_name else None
        proc = self.python(SCHEMA, env)
        assert proc.returncode == 0, proc.stderr
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    def query(self, sql: str) -> list[list[object]]:
        proc = self.python(QUERY + f"print(json.dumps(run({sql!r})))")
        assert proc.returncode == 0, proc.stderr
        rows: list[list[object]] = json.loads(proc.stdout)
        return rows

    def django_graph(self) -> dict[str, list[list[str]]]:
        """Leaves and full plan as Django's own `MigrationLoader(None)` computes them."""
        proc = self.python(DJANGO_GRAPH)
        assert proc.returncode == 0, proc.stderr
        result: dict[str, list[list[str]]] = json.loads(proc.stdout)
        return result


CONTRIB_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
CONTRIB_SETTINGS = """\
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
"""
THIRD_PARTY_MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[("id", models.AutoField(primary_key=True)), ("name", models.TextField())],
        ),
    ]
"""
USER_ROWS = """\
import django
django.setup()
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
User.objects.create_user("alice", password="secret")
session = SessionStore()
session["seen"] = 1
session.create()
with connection.cursor() as cursor:
    cursor.execute("INSERT INTO taglib_tag (name) VALUES ('kept')")
"""


def real_project(
    root: Path, packages: Path, database: dict[str, str] | None = None
) -> DjangoProject:
    """A project as real ones are: Django's contrib apps, and a third-party app with its own
    migrations installed outside the work tree (`packages`, on every subprocess's path)."""
    (packages / "taglib/migrations").mkdir(parents=True, exist_ok=True)
    (packages / "taglib/__init__.py").write_text("")
    (packages / "taglib/migrations/__init__.py").write_text("")
    (packages / "taglib/migrations/0001_initial.py").write_text(THIRD_PARTY_MIGRATION)
    path = os.pathsep.join(filter(None, [str(packages), os.environ.get("PYTHONPATH")]))
    return DjangoProject(
        root,
        apps=[*CONTRIB_APPS, "taglib"],
        database=database or {},
        settings_extra=CONTRIB_SETTINGS,
        env={"PYTHONPATH": path},
    )


def add_user_rows(p: DjangoProject) -> None:
    """A user, a session and a third-party row: what no sync may ever lose."""
    proc = p.python(USER_ROWS)
    assert proc.returncode == 0, proc.stderr


USER_ROWS_SQL = [
    "SELECT username FROM auth_user",
    "SELECT COUNT(*) FROM django_session",
    "SELECT name FROM taglib_tag",
]


def user_rows(p: DjangoProject) -> list[list[object]]:
    """The rows of `USER_ROWS_SQL`, read in one process (a Django start, not three)."""
    proc = p.python(
        QUERY + f"print(json.dumps([r for sql in {USER_ROWS_SQL!r} for r in run(sql)]))"
    )
    assert proc.returncode == 0, proc.stderr
    rows: list[list[object]] = json.loads(proc.stdout)
    return rows


USER_ROWS_ADDED = [["alice"], [1], ["kept"]]
"""What `user_rows` reads after `add_user_rows`."""

HELPERS = """\
def fill(apps, schema_editor):
    apps.get_model({app!r}, {model!r}).objects.update({field}=5)


def unfill(apps, schema_editor):
    apps.get_model({app!r}, {model!r}).objects.update({field}=0)
"""


def migration_with_helper(p: DjangoProject, app: str, name: str, parent: str, model: str) -> None:
    """`name` adds a column to `model` and fills it with functions from `{app}/helpers.py`, a
    module only this branch has: unapplying it needs this branch's code."""
    column = name[5:]
    p.write(f"{app}/helpers.py", HELPERS.format(app=app, model=model, field=column))
    p.migration(
        app,
        name,
        migration_source(
            [(app, parent)],
            add_field(model, column) + "\nmigrations.RunPython(fill, unfill),",
            header=f"from {app}.helpers import fill, unfill\n",
        ),
    )
    p.write(f"{app}/migrations/max_migration.txt", f"{name}\n")


MANAGE_PY = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

DJANGO_GRAPH = """\
import json
import django
django.setup()
from django.db.migrations.loader import MigrationLoader
loader = MigrationLoader(None, ignore_no_migrations=True)
plan = []
for leaf in loader.graph.leaf_nodes():
    for key in loader.graph.forwards_plan(leaf):
        if key not in plan:
            plan.append(key)
print(json.dumps({"leaves": loader.graph.leaf_nodes(), "plan": plan}))
"""

SCHEMA = """\
import json
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    tables = {
        t: sorted(c.name for c in connection.introspection.get_table_description(cursor, t))
        for t in connection.introspection.table_names(cursor)
    }
    rows = []
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        rows = [list(r) for r in cursor.fetchall()]
print(json.dumps({"tables": tables, "migrations": rows}))
"""

QUERY = """\
import json
import django
django.setup()
from django.db import connection
def run(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [list(r) for r in cursor.fetchall()] if cursor.description else []
"""
