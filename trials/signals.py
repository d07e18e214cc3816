"""Signals trials sends to the apps above it, which it never imports (ARCHITECTURE.md)."""

from django.dispatch import Signal

# After an import created or changed trials (trials.importer.after_import), once its own
# follow-up work is done. Keyword argument: stats (trials.importer.ImportStats).
trials_imported = Signal()
