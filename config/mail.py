"""The `file` email backend of `make run`: each message in its own .eml file, which any mail
client opens (Django's own file backend appends messages to one .log file per connection)."""

import datetime
import os
import uuid
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend


class EmlFileBackend(EmailBackend):
    def open(self):
        return False  # one file per message, opened in send_messages

    def close(self):
        pass

    def send_messages(self, email_messages):
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path(self.file_path) / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            # Written aside and renamed: a mail client watching the folder never opens half.
            partial = path.with_suffix(".part")
            try:
                partial.write_bytes(message.message().as_bytes())
                os.replace(partial, path)
            except OSError:
                partial.unlink(missing_ok=True)
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
