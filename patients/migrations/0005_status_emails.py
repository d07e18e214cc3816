"""Default texts of the emails a patient gets when a coordinator moves their inquiry (short
and kind, in English, French and Italian; staff edit them in the admin), and the coordinators'
permissions on "My sites"."""

from django.db import migrations

TEXTS = {
    "contacted": {
        "en": (
            "Your inquiry: the research team has been in touch",
            "Hello {first_name},\n\nThe research team at {site} has marked your inquiry about the trial “{trial}” as contacted: they have tried to reach you, or have already spoken with you. If you have not heard from them yet, please check your phone messages and your spam folder.\n\nThank you for your interest in research.",
        ),
        "fr": (
            "Votre demande : l’équipe de recherche a pris contact",
            "Bonjour {first_name},\n\nL’équipe de recherche de {site} indique avoir pris contact avec vous au sujet de l’essai « {trial} » : elle a essayé de vous joindre, ou vous a déjà parlé. Si vous n’avez pas encore eu de ses nouvelles, pensez à vérifier vos messages téléphoniques et votre dossier de courrier indésirable.\n\nMerci de votre intérêt pour la recherche.",
        ),
        "it": (
            "La sua richiesta: il gruppo di ricerca l’ha contattata",
            "Gentile {first_name},\n\nil gruppo di ricerca di {site} segnala di averla contattata in merito allo studio «{trial}»: ha provato a raggiungerla, oppure vi siete già sentiti. Se non ha ancora ricevuto notizie, controlli i messaggi sul telefono e la cartella della posta indesiderata.\n\nGrazie per il suo interesse per la ricerca.",
        ),
    },
    "prescreening": {
        "en": (
            "Your inquiry: the team is checking whether the trial suits you",
            "Hello {first_name},\n\nThe research team at {site} is going through a few questions with you to see whether the trial “{trial}” could suit you. This is a normal step: they may ask about your health and the treatments you have had.\n\nIf you have questions, ask them: there is no wrong question.",
        ),
        "fr": (
            "Votre demande : l’équipe vérifie si l’essai peut vous convenir",
            "Bonjour {first_name},\n\nL’équipe de recherche de {site} fait le point avec vous pour savoir si l’essai « {trial} » peut vous convenir. C’est une étape habituelle : elle peut vous poser des questions sur votre santé et sur les traitements que vous avez reçus.\n\nSi vous avez des questions, posez-les : il n’y a pas de mauvaise question.",
        ),
        "it": (
            "La sua richiesta: il gruppo verifica se lo studio è adatto a lei",
            "Gentile {first_name},\n\nil gruppo di ricerca di {site} sta valutando con lei se lo studio «{trial}» può essere adatto a lei. È un passaggio normale: potrebbe farle alcune domande sulla sua salute e sulle terapie ricevute finora.\n\nSe ha dei dubbi, non esiti a chiedere: nessuna domanda è fuori luogo.",
        ),
    },
    "referred": {
        "en": (
            "Your inquiry: a screening visit",
            "Hello {first_name},\n\nThe research team at {site} would like to see you for a screening visit for the trial “{trial}”. At this visit, they check with you whether you can take part, and explain everything the trial involves. They will tell you the date and what to bring.\n\nTaking part is always your choice, even after the visit.",
        ),
        "fr": (
            "Votre demande : une visite de présélection",
            "Bonjour {first_name},\n\nL’équipe de recherche de {site} souhaite vous recevoir pour une visite de présélection pour l’essai « {trial} ». Lors de cette visite, elle vérifie avec vous si vous pouvez participer et vous explique tout ce que l’essai implique. Elle vous indiquera la date et ce qu’il faut apporter.\n\nParticiper reste toujours votre choix, même après cette visite.",
        ),
        "it": (
            "La sua richiesta: una visita di screening",
            "Gentile {first_name},\n\nil gruppo di ricerca di {site} desidera incontrarla per una visita di screening per lo studio «{trial}». Durante la visita verificherà con lei se può partecipare e le spiegherà tutto ciò che lo studio comporta. Le comunicherà la data e che cosa portare.\n\nPartecipare è sempre una sua scelta, anche dopo la visita.",
        ),
    },
    "enrolled": {
        "en": (
            "Welcome to the trial",
            "Hello {first_name},\n\nYou are now taking part in the trial “{trial}” at {site}. Thank you: research like this helps patients today and tomorrow.\n\nThe research team is your contact for everything about the trial. You can stop taking part at any time, without giving a reason.",
        ),
        "fr": (
            "Bienvenue dans l’essai",
            "Bonjour {first_name},\n\nVous participez désormais à l’essai « {trial} » à {site}. Merci : la recherche clinique aide les patients d’aujourd’hui et de demain.\n\nL’équipe de recherche est votre interlocutrice pour tout ce qui concerne l’essai. Vous pouvez arrêter votre participation à tout moment, sans avoir à vous justifier.",
        ),
        "it": (
            "Le diamo il benvenuto nello studio",
            "Gentile {first_name},\n\nora partecipa allo studio «{trial}» presso {site}. Grazie: la ricerca clinica aiuta i pazienti di oggi e di domani.\n\nIl gruppo di ricerca è il suo punto di riferimento per tutto ciò che riguarda lo studio. Può interrompere la partecipazione in qualsiasi momento, senza doverne spiegare il motivo.",
        ),
    },
    "not_eligible": {
        "en": (
            "Your inquiry: this trial is not the right one for you",
            "Hello {first_name},\n\nThank you for your interest in the trial “{trial}”. After looking at your situation, the research team at {site} found that you cannot take part in this trial. We know this is disappointing. It is not a judgement on you: trials have strict rules so that their results can be trusted.\n\nOther trials may suit you: see below.",
        ),
        "fr": (
            "Votre demande : cet essai ne vous convient pas",
            "Bonjour {first_name},\n\nMerci de votre intérêt pour l’essai « {trial} ». Après avoir étudié votre situation, l’équipe de recherche de {site} a conclu que vous ne pouvez pas participer à cet essai. Nous savons que c’est décevant. Ce n’est pas un jugement sur vous : les essais suivent des règles strictes pour que leurs résultats soient fiables.\n\nD’autres essais peuvent vous convenir : voyez ci-dessous.",
        ),
        "it": (
            "La sua richiesta: questo studio non è adatto a lei",
            "Gentile {first_name},\n\ngrazie per il suo interesse per lo studio «{trial}». Dopo aver esaminato la sua situazione, il gruppo di ricerca di {site} ha concluso che non può partecipare a questo studio. Sappiamo che è una delusione. Non è un giudizio su di lei: gli studi seguono regole rigorose perché i risultati siano affidabili.\n\nAltri studi potrebbero essere adatti a lei: li trova qui sotto.",
        ),
    },
    "declined": {
        "en": (
            "Your inquiry is closed",
            "Hello {first_name},\n\nThe research team at {site} has noted that you decided not to take part in the trial “{trial}”. This is entirely your choice, and it changes nothing about your care.\n\nIf you change your mind, or would like to look at other trials, TrialFinder is here for you.",
        ),
        "fr": (
            "Votre demande est close",
            "Bonjour {first_name},\n\nL’équipe de recherche de {site} a bien noté que vous avez décidé de ne pas participer à l’essai « {trial} ». C’est entièrement votre choix, et cela ne change rien à vos soins.\n\nSi vous changez d’avis, ou si vous souhaitez découvrir d’autres essais, TrialFinder reste à votre disposition.",
        ),
        "it": (
            "La sua richiesta è chiusa",
            "Gentile {first_name},\n\nil gruppo di ricerca di {site} ha preso nota della sua decisione di non partecipare allo studio «{trial}». È una scelta del tutto sua, e non cambia nulla nelle sue cure.\n\nSe cambia idea, o se desidera conoscere altri studi, TrialFinder è a sua disposizione.",
        ),
    },
    "unreachable": {
        "en": (
            "Your inquiry: the research team could not reach you",
            "Hello {first_name},\n\nThe research team at {site} tried to contact you about the trial “{trial}” but could not reach you, so they have closed your inquiry for now. If you are still interested, please send a new message from the trial's page, and check that your phone number and email address are right.",
        ),
        "fr": (
            "Votre demande : l’équipe de recherche n’a pas pu vous joindre",
            "Bonjour {first_name},\n\nL’équipe de recherche de {site} a essayé de vous contacter au sujet de l’essai « {trial} » sans y parvenir ; elle a donc clos votre demande pour le moment. Si l’essai vous intéresse toujours, envoyez un nouveau message depuis la page de l’essai, en vérifiant votre numéro de téléphone et votre adresse e-mail.",
        ),
        "it": (
            "La sua richiesta: il gruppo di ricerca non è riuscito a contattarla",
            "Gentile {first_name},\n\nil gruppo di ricerca di {site} ha cercato di contattarla in merito allo studio «{trial}» senza riuscirci, e per ora ha chiuso la sua richiesta. Se lo studio le interessa ancora, invii un nuovo messaggio dalla pagina dello studio, controllando che il numero di telefono e l’indirizzo e-mail siano corretti.",
        ),
    },
}


# French typography: a no-break space before : ; ? ! and inside « ».
FRENCH_SPACES = [(" :", "\u00a0:"), (" ;", "\u00a0;"), (" ?", "\u00a0?"), (" !", "\u00a0!"),
                 ("« ", "«\u00a0"), (" »", "\u00a0»")]


def _spaced(text, language):
    if language == "fr":
        for plain, spaced in FRENCH_SPACES:
            text = text.replace(plain, spaced)
    return text


def seed_texts(apps, schema_editor):
    StatusEmail = apps.get_model("patients", "StatusEmail")
    for status, languages in TEXTS.items():
        for language, (subject, body) in languages.items():
            StatusEmail.objects.get_or_create(
                status=status,
                language=language,
                defaults={
                    "enabled": True,
                    "subject": _spaced(subject, language),
                    "body": _spaced(body, language),
                },
            )


def remove_texts(apps, schema_editor):
    apps.get_model("patients", "StatusEmail").objects.all().delete()


def coordinators_may_confirm(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("patients")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Coordinators")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="patients",
            codename__in=["view_coordinatedsite", "change_coordinatedsite"],
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_status_escalation_sites"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(seed_texts, remove_texts),
        migrations.RunPython(coordinators_may_confirm, migrations.RunPython.noop),
    ]
