"""Believable people's names for the demo organisation and the large-database generator."""

from __future__ import annotations

import unicodedata

# A mix of origins, as in any European company; a few carry accents so that display
# names exercise Unicode while usernames stay ASCII.
FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Ada", "Adam", "Adrian", "Agnes", "Ahmed", "Aisha", "Alan", "Albert", "Alice",
    "Amelia", "Amir", "Ana", "Andrea", "Andrew", "Anja", "Anna", "Anton", "Arjun", "Astrid",
    "Ben", "Bianca", "Boris", "Brigitte", "Camille", "Carla", "Carlos", "Caroline", "Chen",
    "Chloé", "Chris", "Clara", "Daniel", "David", "Diana", "Dmitri", "Elena", "Elif", "Elisa",
    "Emil", "Emily", "Emma", "Erik", "Eva", "Fatima", "Felix", "Finn", "Francesca", "Frank",
    "Gabriel", "Georg", "Grace", "Hana", "Hannah", "Hans", "Hassan", "Helena", "Henrik",
    "Hugo", "Ines", "Ingrid", "Isabel", "Ivan", "Jakob", "James", "Jan", "Jana", "Javier",
    "Jens", "Joanna", "Johan", "John", "Jonas", "José", "Julia", "Julian", "Karin", "Karl",
    "Katarzyna", "Kenji", "Klara", "Lars", "Laura", "Lea", "Leon", "Lina", "Lucas", "Lucía",
    "Luis", "Lukas", "Maja", "Marco", "Maria", "Marie", "Mark", "Marta", "Martin", "Mateo",
    "Max", "Mei", "Mia", "Michael", "Mohammed", "Nadia", "Nils", "Nina", "Noah", "Nora",
    "Olga", "Oliver", "Omar", "Oskar", "Pablo", "Paul", "Peter", "Petra", "Pia", "Priya",
    "Rafael", "Rahul", "Rosa", "Ruth", "Sara", "Sebastian", "Simon", "Sofia", "Sophie",
    "Stefan", "Susanne", "Sven", "Tariq", "Thomas", "Tobias", "Tom", "Ulrike", "Valentina",
    "Victor", "Viktor", "Wei", "William", "Yara", "Yusuf", "Zoë", "Zofia",
)

LAST_NAMES: tuple[str, ...] = (
    "Abbott", "Acosta", "Adler", "Ahmed", "Almeida", "Andersen", "Arnold", "Bauer", "Becker",
    "Bergmann", "Berg", "Bianchi", "Blanco", "Brandt", "Braun", "Brown", "Carter", "Castro",
    "Chen", "Clarke", "Costa", "Dahl", "Davies", "Dubois", "Eriksson", "Evans", "Fischer",
    "Fontaine", "Ford", "Fox", "Friedrich", "Fuchs", "García", "Gomez", "Graham", "Green",
    "Gruber", "Hahn", "Hall", "Hansen", "Hartmann", "Hoffmann", "Holm", "Horvat", "Hughes",
    "Ivanova", "Jansen", "Jensen", "Johansson", "Jones", "Kaiser", "Kaur", "Keller", "Khan",
    "Kim", "Klein", "Koch", "Kowalski", "Krause", "Kumar", "Lang", "Larsen", "Laurent",
    "Lehmann", "Lewis", "Lindqvist", "Lopez", "Lorenz", "Martin", "Martínez", "Meyer",
    "Moreau", "Morris", "Müller", "Murphy", "Nagy", "Nguyen", "Nielsen", "Novak", "Nowak",
    "O'Brien", "Olsen", "Otto", "Park", "Patel", "Peters", "Petrov", "Popescu", "Quinn",
    "Richter", "Rossi", "Roth", "Russo", "Santos", "Schmidt", "Schneider", "Schulz",
    "Schwarz", "Silva", "Singh", "Smith", "Sørensen", "Stewart", "Suzuki", "Svensson",
    "Tanaka", "Taylor", "Thomas", "Vogel", "Wagner", "Walker", "Wang", "Weber", "Wilson",
    "Wolf", "Wright", "Yilmaz", "Young", "Zhang", "Zimmermann",
)


def ascii_fold(text: str) -> str:
    """Lowercase ASCII letters only: "Zoë" -> "zoe", "O'Brien" -> "obrien", "Sørensen" ->
    "sorensen". Usernames must stay portable (see validation.username)."""
    text = text.replace("ø", "o").replace("Ø", "O").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalpha()).lower()
