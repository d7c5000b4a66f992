"""``python manage.py verify_provenance <execution_id>``: exit 0 if the stored record's
signature holds, 1 if it does not (tampered, unsigned, or signed with another key)."""

from django.core.management.base import BaseCommand, CommandError

from executions_app.models import Execution
from executions_app.provenance import verify_execution


class Command(BaseCommand):
    help = "Check the provenance signature of an execution against its stored row."

    def add_arguments(self, parser):
        parser.add_argument("execution_id")

    def handle(self, *args, execution_id: str, **options):
        execution = Execution.objects.filter(execution_id=execution_id).first()
        if execution is None:
            raise CommandError(f"execution {execution_id} not found")
        if not execution.provenance_signature:
            raise CommandError(f"execution {execution_id} is {execution.status} and not signed yet")
        if not verify_execution(execution):
            raise CommandError(f"provenance of {execution_id} does NOT verify: the record changed")
        self.stdout.write(f"provenance of {execution_id} verifies ({execution.status}).")
