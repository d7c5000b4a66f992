"""``python manage.py create_api_key --name N --role R [--tags a,b] [--node NODE]``.

The key is printed once, alone on the last line, so scripts can take ``tail -n 1``.
"""

from django.core.management.base import BaseCommand, CommandError

from access_app.models import Role
from access_app.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--tags", default="", help="comma-separated caller tags")
        parser.add_argument("--node", default="", help="agent keys: the node id it may act as")

    def handle(self, *args, name: str, role: str, tags: str, node: str, **options):
        try:
            key, plaintext = api_key_create(
                name=name, role=role, tags=tags.split(","), node_id=node
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Created {key.role} key {key.name!r} (prefix {key.prefix}, tags {key.tags})."
        )
        self.stdout.write(plaintext)
