/** Names like Docker's `pensive_hopper`: an adjective and a computing pioneer. */
import { randomInt } from 'node:crypto';

// prettier-ignore
const ADJECTIVES = [
  'admiring', 'agitated', 'amazing', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming', 'clever',
  'compassionate', 'competent', 'cool', 'dazzling', 'determined', 'eager', 'ecstatic', 'elastic', 'elegant',
  'epic', 'exciting', 'fervent', 'focused', 'friendly', 'gallant', 'gifted', 'goofy', 'gracious', 'happy',
  'hopeful', 'infallible', 'inspiring', 'intelligent', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'lucid',
  'magical', 'modest', 'musing', 'mystifying', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic',
  'peaceful', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed', 'reverent', 'romantic',
  'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'sweet', 'tender', 'thirsty', 'trusting',
  'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous',
];

// prettier-ignore
const PIONEERS = [
  'agnesi', 'allen', 'babbage', 'backus', 'bartik', 'bell', 'booth', 'borg', 'brattain', 'cerf', 'clarke',
  'codd', 'colden', 'cori', 'curie', 'darwin', 'diffie', 'dijkstra', 'easley', 'einstein', 'elion', 'engelbart',
  'euclid', 'feynman', 'franklin', 'galileo', 'goldberg', 'goodall', 'hamilton', 'hawking', 'hellman',
  'hermann', 'hodgkin', 'hoover', 'hopper', 'hypatia', 'jackson', 'jang', 'jennings', 'johnson', 'kalam',
  'keller', 'kepler', 'knuth', 'kowalevski', 'lamarr', 'lamport', 'leakey', 'liskov', 'lovelace', 'lumiere',
  'mayer', 'mccarthy', 'mcclintock', 'meitner', 'merkle', 'mirzakhani', 'morse', 'napier', 'newton', 'nobel',
  'noether', 'pascal', 'perlman', 'pike', 'poincare', 'ritchie', 'rosalind', 'sammet', 'shamir', 'shannon',
  'shockley', 'sinoussi', 'stonebraker', 'swartz', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira',
  'villani', 'wescoff', 'wiles', 'williams', 'wilson', 'wing', 'wozniak', 'wright', 'yalow', 'yonath',
];

export function randomName(): string {
  return `${randomAdjective()}_${PIONEERS[randomInt(PIONEERS.length)]}`;
}

/** One of the adjectives alone (add-on names, as Heroku's `postgresql-curly-12345`). */
export function randomAdjective(): string {
  return ADJECTIVES[randomInt(ADJECTIVES.length)] as string;
}
