"""`make run` writes each email to .local/mail/ as an .eml file that a mail client opens."""

from email import message_from_bytes, policy

from django.core.mail import EmailMultiAlternatives, get_connection


def test_each_message_is_its_own_eml_file_with_both_parts(tmp_path):
    connection = get_connection("config.mail.EmlFileBackend", file_path=str(tmp_path))
    messages = []
    for n in (1, 2):
        message = EmailMultiAlternatives(
            subject=f"Confirmez votre alerte {n}",
            body="Bonjour,\nconfirmez : https://example.org/alerts/confirm/x/",
            from_email="TrialFinder <noreply@trialfinder.localhost>",
            to=["alice@example.org"],
            headers={"Message-ID": f"<m{n}@trialfinder.localhost>"},
            connection=connection,
        )
        message.attach_alternative("<p>Bonjour</p>", "text/html")
        messages.append(message)
    assert connection.send_messages(messages) == 2

    files = sorted(tmp_path.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    parsed = sorted(
        (message_from_bytes(f.read_bytes(), policy=policy.default) for f in files),
        key=lambda m: m["Message-ID"],
    )
    assert [m["Subject"] for m in parsed] == [f"Confirmez votre alerte {n}" for n in (1, 2)]
    assert parsed[0]["To"] == "alice@example.org"
    assert "confirmez :" in parsed[0].get_body(("plain",)).get_content()
    assert parsed[0].get_body(("html",)).get_content().strip() == "<p>Bonjour</p>"
