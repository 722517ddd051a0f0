"""Safe condensation of subtitle text (`dubkit.subtitles.condense`): each rule, per language; ordinary text kept."""

from __future__ import annotations

import pytest

from dubkit.subtitles import condense


@pytest.mark.parametrize(
    ("language", "text", "condensed"),
    [
        # hesitations, wherever they stand, with the commas or ellipsis that set them off
        ("en", "Uh, I think we should go.", "I think we should go."),
        ("en", "I, uh, think we should go.", "I think we should go."),
        ("en", "I don't know... um... maybe.", "I don't know... maybe."),
        ("en", "It was hard, hmm.", "It was hard."),
        ("en", "Hmm. Yes, I see.", "Yes, I see."),
        ("es", "Eh... no sé qué decirte.", "No sé qué decirte."),
        ("pt", "Eu, hum, não sei.", "Eu não sei."),
        ("fr", "Euh, je ne sais pas.", "Je ne sais pas."),
        ("it", "Ehm, non lo so.", "Non lo so."),
        ("de", "Ähm, ich weiß nicht.", "Ich weiß nicht."),
        # fillers opening a sentence (then the next word capitalized)
        ("en", "Well, I don't think so.", "I don't think so."),
        ("en", "Fine. Well, we could try it.", "Fine. We could try it."),
        ("es", "Bueno, eh, no sé qué decirte.", "No sé qué decirte."),
        ("es", "Pues no lo sé todavía.", "No lo sé todavía."),
        ("es", "O sea, que no vienes mañana.", "Que no vienes mañana."),
        ("es", "¿Bueno, qué es lo que quieres?", "¿Qué es lo que quieres?"),
        ("pt-BR", "Olha, eu não sei o que dizer.", "Eu não sei o que dizer."),
        ("fr", "Bon, on y va tous ensemble.", "On y va tous ensemble."),
        ("it", "Beh, vediamo cosa succede.", "Vediamo cosa succede."),
        ("de", "Na ja, wir gehen jetzt nach Hause.", "Wir gehen jetzt nach Hause."),
        # asides that are pure fillers
        ("en", "It was, you know, really hard.", "It was really hard."),
        ("en", "She sings well, you know.", "She sings well."),
        ("fr", "C'était, tu sais, difficile.", "C'était difficile."),
        ("pt", "Foi, tipo, incrível.", "Foi incrível."),
        # a word said again at once
        ("es", "No, no, no, eso no es así.", "No, eso no es así."),
        ("es", "Sí, sí, sí. Vamos.", "Sí. Vamos."),
        ("en", "It's very very good.", "It's very good."),
        ("en", "I... I don't know.", "I don't know."),
        # stutters
        ("en", "I- I don't know.", "I don't know."),
        ("en", "Th- the car is red.", "The car is red."),
        ("en", "W- what is it?", "What is it?"),
        # doubled punctuation and long ellipses
        ("es", "¡¡Vamos ya!!", "¡Vamos ya!"),
        ("es", "¿¿Qué??", "¿Qué?"),
        ("en", "Wait..... what?", "Wait... what?"),
        ("fr", "Attends…… quoi ?", "Attends… quoi ?"),
        ("ja", "はい!!", "はい!"),  # a language without a table: punctuation alone
    ],
)
def test_each_rule_condenses(language, text, condensed):
    assert condense.condense(text, language) == condensed


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "It represents the European Central Bank and it symbolizes the value of European banknotes."),
        ("en", "He had had enough, so so be it."),  # grammatical doubles
        ("en", "Call five five five, then knock knock."),  # numbers, idioms
        ("en", "We flew to Bora Bora last year, with a 35 mm camera."),  # a name, not a repeat; a unit
        ("en", "Well, thanks."),  # an answer: too short a sentence for a filler to open it
        ("en", "It went well, I think. It's red, I mean, blue."),  # `I mean` correcting is meaning
        ("en", "So, like, what do you want?"),
        ("en", "What?! Eh? Hmm! Well-known, pre- and post-war."),  # asked or exclaimed: not hesitations
        ("es", "Representa el Banco Central Europeo y simboliza el valor de los billetes."),
        ("es", "No lo sé, ¿eh? Como como un cerdo. Bueno, pero fría."),
        ("es", "El autobús para para recoger a los niños, ja ja."),
        ("pt", "Eu tenho um um carro? Bem, obrigado. O que que você quer?"),
        ("fr", "Nous nous levons tôt. Vous vous trompez."),
        ("it", "Così così, piano piano."),
        ("de", "Die Frau, die die Zeitung liest. Er sagt, er kommt. Haben Sie sie gesehen?"),
        ("de", "Das ist das Haus, das das Feuer überstand."),
        ("es", "Uno, dos, tres... cuatro."),
        ("en", "Hmm."),  # nothing left would be shown: kept
    ],
)
def test_ordinary_text_is_left_alone(language, text):
    assert condense.condense(text, language) == text


def test_whitespace_alone_is_not_condensing():
    assert condense.condense("Hola,  ¿qué  tal?", "es") == "Hola,  ¿qué  tal?"


def test_rules_follow_the_primary_language():
    assert condense.rules_for("pt-BR") == condense.RULES["pt"]
    assert condense.rules_for("es-419") == condense.RULES["es"]
    assert condense.rules_for("ko") == condense.Rules()
    assert set(condense.RULES) >= {"en", "es", "pt", "fr", "it", "de"}
