"""Pages of realistic recognised text for the search benchmark (benchmarks/history_scale.py).

Business prose: words drawn with Zipf's law (exponent 1) from a 6,000-word vocabulary whose
head is real English (function words, then office words) and whose tail is made-up words of
real-looking syllables; people's names, invoice numbers, amounts and dates mixed in; about
230 words a page (a typed A4 letter). One page in 20 is Chinese: ~450 characters drawn with
Zipf's law from 3,000 CJK ideographs, with punctuation and a few names such as 陳美玲.
Deterministic for a seed.
"""

import itertools
import random

HEAD = """the of and to a in for is on that by this with you it not or be are from at as your all have new more
an was we will can us about if my has but our one other do no information they he up may what which their
any there only so his when contact here business who also now help get pm view online first am been would how
were me services some these click its like service than find price date back top people had list name just over
state year day into email two health world next used go work last most products music buy data make them should
product system post her city add policy number such please available copyright support message after best
software then jan good video well where info rights public books high school through each links she review years
order very privacy book items company read group need many user said does set under general research university
january mail full map reviews program life know games way days management part could great united hotel real item
international center ebay must store travel comments made development report off member details line terms before
hotels did send right type because local those using results office education national car design take posted
internet address community within states area want phone dvd shipping reserved subject between forum family long
based code show even black check special prices website index being women much sign file link open today technology
south case project same pages version section own found sports house related security both county american photo
game members power while care network down computer systems three total place end following download him without
per access think north resources current posts big media law control water history pictures size art personal since
including guide shop directory board location change white text small rating rate government children during usa
return students shopping account times sites level digital profile previous form events love old john main call
hours image department title description non insurance another why shall property class cd still money quality
every listing content country private little visit save tools low reply customer december compare movies include
college value article york man card jobs provide food source author different press learn sale around print course
job canada process teen room stock training too credit point join science men categories advanced west sales look
english left team estate box conditions select windows photos gay thread week category note live large gallery
table register however june october november market library really action start series model features air industry
plan human provided yes required second hot accessories cost movie forums march la september better say questions
july yahoo going medical test friend come dec server pc study application cart staff articles san feedback again
play looking issues april never users complete street topic comment financial things working against standard tax
person below mobile less got blog party payment equipment login student let programs offers legal above recent park
stores side act problem red give memory performance social august quote language story sell options experience
rates create key body young america important field few east paper single age activities club example girls
additional password latest something road gift question changes night ca hard texas oct pay four poker status browse
issue range building seller court february always result audio light write war nov offer blue groups al easy given
files event release analysis request fax china making picture needs possible might professional yet month major star
areas future space committee hand sun cards problems london washington meeting become interest id child keep enter
california share similar garden schools million added reference companies listed baby learning energy run delivery
net popular term film stories put computers journal reports co try welcome central images president notice original
head radio until cell color self council away includes track australia discussion archive once others entertainment
agreement format least society months log safety friends sure faq trade edition cars messages marketing tell further
updated association able having provides david fun already green studies close common drive specific several gold
feb living sep collection called short arts lot ask display limited powered solutions means director daily beach
past natural whether due et electronics five upon period planning database says official weather mar land average
done technical window africa pro invoice contract receipt statement payslip shipment warehouse supplier consignment
""".split()
SYLLABLES = ("ka ro mi na te lo vi sa du ne ri ma po le ta ki bo ra ze fi gu ho ja me ny ol ar en is ur ex "
             "tra pli stro ven dor gal mar kel pet sor ban tik lum nor vas bri cor dal fen gor hal").split()
FIRST = ("Anna Ben Clara David Eva Felix Greta Hugo Ines Jonas Karin Lukas Marta Nils Olga Paul Rosa Stefan "
         "Tina Uwe Vera Walter Yusuf Zoe Amir Bianca Carlos Dana Emil Fatima Georg Hanna Ivan Julia Kemal "
         "Lena Mario Nora Oskar Petra").split()
HAN_NAMES = ("陳美玲", "王建國", "林志明", "張淑芬", "李家豪", "黃雅婷", "吳俊傑", "劉怡君")
PUNCT = "，。、；："


def _zipf_cumulative(n: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(n)))


class PageWriter:
    VOCABULARY_SIZE = 6000

    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        rng = random.Random(seed + 1)
        head = list(dict.fromkeys(HEAD))
        tail = set()
        while len(head) + len(tail) < self.VOCABULARY_SIZE:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            if word not in head:
                tail.add(word)
        self.vocabulary = head + sorted(tail)
        self.weights = _zipf_cumulative(len(self.vocabulary))
        self.surnames = sorted({"".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() for _ in range(2000)})
        hanzi = sorted(rng.sample(range(0x4E00, 0x9FA5), 3000))
        self.hanzi = [chr(c) for c in hanzi]
        self.hanzi_weights = _zipf_cumulative(len(self.hanzi))

    def page(self) -> str:
        return self.chinese_page() if self.rng.random() < 0.05 else self.english_page()

    def english_page(self) -> str:
        rng = self.rng
        words = rng.choices(self.vocabulary, cum_weights=self.weights, k=230)
        for _ in range(rng.randint(2, 6)):  # names, numbers, dates, amounts
            extra = rng.choice((
                f"{rng.choice(FIRST)} {rng.choice(self.surnames)}",
                f"INV-{rng.randint(2019, 2026)}-{rng.randint(0, 99999):05d}",
                f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2019, 2026)}",
                f"{rng.randint(1, 99999):,}.{rng.randint(0, 99):02d} EUR",
            ))
            words.insert(rng.randrange(len(words)), extra)
        lines, line, sentence = [], [], 0
        for word in words:
            if sentence == 0:
                word = word[:1].upper() + word[1:]
                sentence = rng.randint(6, 18)
            sentence -= 1
            line.append(word + ("." if sentence == 0 else ""))
            if sum(len(w) + 1 for w in line) > 70:
                lines.append(" ".join(line))
                line = []
                if rng.random() < 0.15:
                    lines.append("")
        lines.append(" ".join(line))
        return "\n".join(lines)

    def chinese_page(self) -> str:
        rng = self.rng
        chars = rng.choices(self.hanzi, cum_weights=self.hanzi_weights, k=450)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars))
            chars[at:at] = list(rng.choice(HAN_NAMES))
        out, sentence = [], rng.randint(8, 20)
        for i, ch in enumerate(chars):
            out.append(ch)
            sentence -= 1
            if sentence == 0:
                out.append(rng.choice(PUNCT))
                sentence = rng.randint(8, 20)
            if i and i % 38 == 0:
                out.append("\n")
        return "".join(out)
