"""The embedded stack's Celery broker: kombu's SQLAlchemy transport on a SQLite file.

Subclassed only to poll every 50 ms instead of every second (kombu hands transport options
to ``create_engine``, so ``polling_interval`` cannot be passed as one).
"""

from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport


class Transport(SQLAlchemyTransport):
    polling_interval = 0.05
