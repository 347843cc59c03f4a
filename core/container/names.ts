import { randomInt } from 'node:crypto';

// A selection from Docker's namesgenerator (moby pkg/namesgenerator), in its spirit:
// an adjective and a notable scientist or hacker.
const LEFT = [
  'admiring', 'adoring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'beautiful', 'blissful', 'bold',
  'boring', 'brave', 'busy', 'charming', 'clever', 'compassionate', 'competent', 'confident', 'cool', 'cranky',
  'crazy', 'dazzling', 'determined', 'distracted', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant',
  'eloquent', 'epic', 'exciting', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'funny',
  'gallant', 'gifted', 'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry',
  'infallible', 'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic',
  'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'recursing',
  'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange',
  'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant',
  'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen',
];
const RIGHT = [
  'agnesi', 'albattani', 'allen', 'almeida', 'archimedes', 'babbage', 'banach', 'bardeen', 'bartik', 'bassi',
  'bell', 'benz', 'bhabha', 'black', 'blackwell', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta',
  'brattain', 'brown', 'carson', 'cerf', 'chandrasekhar', 'chatelet', 'clarke', 'cohen', 'curie', 'darwin',
  'davinci', 'dijkstra', 'dirac', 'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'faraday', 'fermat',
  'fermi', 'feynman', 'franklin', 'galileo', 'gates', 'goldberg', 'goldwasser', 'goodall', 'haibt', 'hamilton',
  'hawking', 'heisenberg', 'hermann', 'hodgkin', 'hoover', 'hopper', 'hypatia', 'jackson', 'jemison', 'jennings',
  'johnson', 'kalam', 'kepler', 'khorana', 'knuth', 'kowalevski', 'lalande', 'lamarr', 'lamport', 'leakey',
  'leavitt', 'lederberg', 'liskov', 'lovelace', 'lumiere', 'mahavira', 'margulis', 'mayer', 'mccarthy', 'mcclintock',
  'meitner', 'mendel', 'merkle', 'mirzakhani', 'montalcini', 'moore', 'morse', 'napier', 'nash', 'newton',
  'nightingale', 'nobel', 'noether', 'noyce', 'pascal', 'pasteur', 'payne', 'perlman', 'pike', 'poincare',
  'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'robinson', 'rosalind', 'sammet', 'shannon', 'shockley',
  'sinoussi', 'snyder', 'spence', 'stonebraker', 'sutherland', 'swartz', 'tesla', 'thompson', 'torvalds', 'turing',
  'varahamihira', 'villani', 'volhard', 'wescoff', 'wiles', 'williams', 'wilson', 'wing', 'wozniak', 'wright',
  'yalow', 'yonath', 'zhukovsky',
];

/** A Docker-style container name such as `focused_turing`. */
export function randomName(): string {
  for (;;) {
    const name = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    // As Docker: Steve Wozniak is not boring.
    if (name !== 'boring_wozniak') return name;
  }
}
