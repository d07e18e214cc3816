"""The default Italian status emails in the interface's register, the informal "tu" (0005 wrote
them with the formal "lei"). A text staff have edited since is left as they wrote it."""

import importlib

from django.db import migrations

TU = {
    "contacted": (
        "La tua richiesta: il gruppo di ricerca ti ha contattato",
        "Ciao {first_name},\n\nil gruppo di ricerca di {site} segnala di averti contattato in merito allo studio «{trial}»: ha provato a raggiungerti, oppure vi siete già sentiti. Se non hai ancora ricevuto notizie, controlla i messaggi sul telefono e la cartella della posta indesiderata.\n\nGrazie per il tuo interesse per la ricerca.",
    ),
    "prescreening": (
        "La tua richiesta: il gruppo verifica se lo studio è adatto a te",
        "Ciao {first_name},\n\nil gruppo di ricerca di {site} sta valutando con te se lo studio «{trial}» può essere adatto a te. È un passaggio normale: potrebbe farti alcune domande sulla tua salute e sulle terapie ricevute finora.\n\nSe hai dei dubbi, non esitare a chiedere: nessuna domanda è fuori luogo.",
    ),
    "referred": (
        "La tua richiesta: una visita di screening",
        "Ciao {first_name},\n\nil gruppo di ricerca di {site} vorrebbe incontrarti per una visita di screening per lo studio «{trial}». Durante la visita verificherà con te se puoi partecipare e ti spiegherà tutto ciò che lo studio comporta. Ti comunicherà la data e che cosa portare.\n\nPartecipare è sempre una tua scelta, anche dopo la visita.",
    ),
    "enrolled": (
        "Ti diamo il benvenuto nello studio",
        "Ciao {first_name},\n\nora partecipi allo studio «{trial}» presso {site}. Grazie: la ricerca clinica aiuta i pazienti di oggi e di domani.\n\nIl gruppo di ricerca è il tuo punto di riferimento per tutto ciò che riguarda lo studio. Puoi interrompere la partecipazione in qualsiasi momento, senza doverne spiegare il motivo.",
    ),
    "not_eligible": (
        "La tua richiesta: questo studio non è adatto a te",
        "Ciao {first_name},\n\ngrazie per il tuo interesse per lo studio «{trial}». Dopo aver esaminato la tua situazione, il gruppo di ricerca di {site} ha concluso che non puoi partecipare a questo studio. Sappiamo che è una delusione. Non è un giudizio su di te: gli studi seguono regole rigorose perché i risultati siano affidabili.\n\nAltri studi potrebbero essere adatti a te: li trovi qui sotto.",
    ),
    "declined": (
        "La tua richiesta è chiusa",
        "Ciao {first_name},\n\nil gruppo di ricerca di {site} ha preso nota della tua decisione di non partecipare allo studio «{trial}». È una scelta del tutto tua, e non cambia nulla nelle tue cure.\n\nSe cambi idea, o se vuoi conoscere altri studi, TrialFinder è a tua disposizione.",
    ),
    "unreachable": (
        "La tua richiesta: il gruppo di ricerca non è riuscito a contattarti",
        "Ciao {first_name},\n\nil gruppo di ricerca di {site} ha cercato di contattarti in merito allo studio «{trial}» senza riuscirci, e per ora ha chiuso la tua richiesta. Se lo studio ti interessa ancora, invia un nuovo messaggio dalla pagina dello studio, controllando che il numero di telefono e l’indirizzo email siano corretti.",
    ),
}


def _lei():
    return importlib.import_module("patients.migrations.0005_status_emails").TEXTS


def to_tu(apps, schema_editor):
    StatusEmail = apps.get_model("patients", "StatusEmail")
    lei = _lei()
    for status, (subject, body) in TU.items():
        old_subject, old_body = lei[status]["it"]
        StatusEmail.objects.filter(
            status=status, language="it", subject=old_subject, body=old_body
        ).update(subject=subject, body=body)


def to_lei(apps, schema_editor):
    StatusEmail = apps.get_model("patients", "StatusEmail")
    lei = _lei()
    for status, (subject, body) in TU.items():
        old_subject, old_body = lei[status]["it"]
        StatusEmail.objects.filter(status=status, language="it", subject=subject, body=body).update(
            subject=old_subject, body=old_body
        )


class Migration(migrations.Migration):
    dependencies = [("patients", "0006_inquiry_event_submission_key")]
    operations = [migrations.RunPython(to_tu, to_lei)]
