/**
 * The bundled demo data, generated: a made-up film catalogue in MovieLens's CSV format (ratings,
 * movies with titles and genres, tags), drawn from a seeded taste model so that the demo output
 * reads like films and personalised models have real structure to find. Generated rather than
 * copied because MovieLens's license forbids redistributing its data in a package.
 *
 * The model, in order of the draws (one `Rng` stream, so a seed fixes every byte):
 * - Movies: a primary genre by catalogue share, 0–2 companion genres, a release year skewed to
 *   recent decades, a title from per-genre word lists (unique), and a latent quality.
 *   Popularity follows a Zipf law over a rank that is quality plus noise, so popular films are
 *   somewhat better, not strictly.
 * - Users: a taste per genre (two favourites, one dislike, small noise elsewhere), a liking for
 *   old or new films, a rating bias, and an activity (20 to 280 ratings, most near the low end).
 * - Choices: each user rates a weighted sample without replacement (Efraimidis–Spirakis keys)
 *   with weight popularity · exp(3 · affinity), affinity = mean taste over the film's genres plus
 *   the era term; order within the user is random, timestamps advance in sessions.
 * - Ratings: 3.0 + 0.6 · quality + bias + 0.9 · affinity + noise, rounded to half stars in
 *   [0.5, 5].
 * - Tags: a third of users tag about one in seven of their films with a phrase of one of its genres.
 */
import { Rng } from '../../src/util/rng.js';

export const DEMO_SEED = 16;
export const DEMO_USERS = 150;
export const DEMO_MOVIES = 1000;

/** Primary-genre shares of the catalogue (MovieLens's genre names). */
const GENRE_SHARE: Record<string, number> = {
  Drama: 20, Comedy: 18, Action: 10, Thriller: 8, Romance: 7, Adventure: 6, Crime: 6, Horror: 5,
  'Sci-Fi': 5, Fantasy: 3, Mystery: 3, Animation: 3, Children: 2, Documentary: 2, War: 1,
  Musical: 1, Western: 1, 'Film-Noir': 1,
};
const GENRES = Object.keys(GENRE_SHARE);

/** Genres that often come with a primary genre. */
const COMPANIONS: Record<string, string[]> = {
  Drama: ['Romance', 'Crime', 'War', 'Mystery'],
  Comedy: ['Romance', 'Drama', 'Children', 'Crime'],
  Action: ['Adventure', 'Thriller', 'Sci-Fi', 'Crime'],
  Thriller: ['Crime', 'Mystery', 'Drama', 'Horror'],
  Romance: ['Comedy', 'Drama', 'Musical'],
  Adventure: ['Action', 'Fantasy', 'Children', 'Western'],
  Crime: ['Drama', 'Thriller', 'Film-Noir'],
  Horror: ['Thriller', 'Mystery', 'Sci-Fi'],
  'Sci-Fi': ['Action', 'Adventure', 'Thriller'],
  Fantasy: ['Adventure', 'Children', 'Animation'],
  Mystery: ['Thriller', 'Crime', 'Film-Noir'],
  Animation: ['Children', 'Comedy', 'Fantasy'],
  Children: ['Animation', 'Comedy', 'Adventure'],
  Documentary: ['War', 'Musical'],
  War: ['Drama', 'Action'],
  Musical: ['Romance', 'Comedy'],
  Western: ['Action', 'Adventure'],
  'Film-Noir': ['Crime', 'Mystery'],
};

/** Title nouns by genre. */
const NOUNS: Record<string, string[]> = {
  Drama: ['Letters', 'Summer', 'Daughter', 'Promise', 'Harvest', 'House', 'Winter', 'River', 'Orchard', 'Years'],
  Comedy: ['Wedding', 'Roommates', 'Vacation', 'Weekend', 'Neighbours', 'Party', 'Mix-Up', 'Dinner', 'Reunion', 'Road Trip'],
  Action: ['Strike', 'Fury', 'Target', 'Protocol', 'Vengeance', 'Run', 'Force', 'Edge', 'Blade', 'Zone'],
  Thriller: ['Conspiracy', 'Hostage', 'Pursuit', 'Code', 'Deadline', 'Trap', 'Witness', 'Signal'],
  Romance: ['Heart', 'Kiss', 'Love Song', 'Affair', 'Rendezvous', 'Sweetheart', 'Proposal'],
  Adventure: ['Island', 'Quest', 'Voyage', 'Expedition', 'Treasure', 'Horizon', 'Jungle', 'Map'],
  Crime: ['Heist', 'Job', 'Alibi', 'Syndicate', 'Racket', 'Getaway', 'Score', 'Mob'],
  Horror: ['Cellar', 'Curse', 'Ritual', 'Haunting', 'Woods', 'Thing', 'Asylum', 'Hunger'],
  'Sci-Fi': ['Planet', 'Orbit', 'Colony', 'Machine', 'Android', 'Galaxy', 'Station', 'Frequency'],
  Fantasy: ['Kingdom', 'Sorcerer', 'Crown', 'Realm', 'Spell', 'Throne', 'Legend', 'Dragon'],
  Mystery: ['Riddle', 'Key', 'Clue', 'Manor', 'Disappearance', 'Lighthouse', 'Portrait'],
  Animation: ['Robot', 'Balloon', 'Treehouse', 'Penguin', 'Fox', 'Lantern', 'Cloud'],
  Children: ['Puppy', 'Treehouse', 'Kite', 'Magic Bus', 'Bear', 'Snowman', 'Pirates'],
  Documentary: ['Story', 'Voices', 'Record', 'Notes', 'Journey', 'Archive', 'Witnesses'],
  War: ['Battalion', 'Front', 'Siege', 'Beachhead', 'Command', 'Trenches', 'Convoy'],
  Musical: ['Song', 'Melody', 'Dance', 'Stage', 'Rhythm', 'Serenade', 'Chorus Line'],
  Western: ['Canyon', 'Outlaw', 'Frontier', 'Ranch', 'Sheriff', 'Gunfighter', 'Trail'],
  'Film-Noir': ['Shadow', 'Night', 'Dame', 'Alley', 'Double-Cross', 'Rain', 'Nightclub'],
};
const ADJECTIVES = [
  'Silent', 'Crimson', 'Broken', 'Last', 'Hidden', 'Golden', 'Midnight', 'Lonely', 'Wild', 'Burning',
  'Frozen', 'Distant', 'Secret', 'Restless', 'Iron', 'Velvet', 'Hollow', 'Electric', 'Quiet', 'Savage',
  'Little', 'Lucky', 'Endless', 'Forgotten', 'Brave', 'Northern', 'Painted', 'Stolen', 'Long', 'Blue',
];
const PLACES = ['Paris', 'the North', 'Tokyo', 'Harlow', 'the Desert', 'Eden Falls', 'Brooklyn', 'the Valley', 'Marrakesh', 'Lake Orin', 'the Coast', 'Vienna'];
const NAMES = ['Annie', 'Jake', 'Marlowe', 'Rosa', 'Elliot', 'June', 'Captain Reyes', 'Dr. Hale', 'Mabel', 'Theo', 'Nora', 'Sam'];
const SEQUELS = ['II', '2', 'Returns', 'Reloaded'];

/** Tag phrases by genre, as users of a film site write them. */
const TAGS: Record<string, string[]> = {
  Drama: ['moving', 'great acting', 'slow burn', 'family'],
  Comedy: ['funny', 'feel-good', 'quirky', 'witty dialogue'],
  Action: ['explosions', 'fast-paced', 'car chase', 'stunts'],
  Thriller: ['suspense', 'twist ending', 'tense', 'paranoia'],
  Romance: ['romantic', 'sweet', 'love story', 'chemistry'],
  Adventure: ['epic', 'exotic locations', 'quest', 'fun'],
  Crime: ['heist', 'gangsters', 'clever plot', 'dark'],
  Horror: ['creepy', 'gore', 'jump scares', 'atmospheric'],
  'Sci-Fi': ['space', 'time travel', 'dystopia', 'artificial intelligence'],
  Fantasy: ['magic', 'dragons', 'world-building', 'fairy tale'],
  Mystery: ['whodunit', 'detective', 'puzzle', 'twist ending'],
  Animation: ['beautiful animation', 'pixar-like', 'colourful', 'cute'],
  Children: ['family friendly', 'kids', 'heartwarming', 'cute'],
  Documentary: ['informative', 'true story', 'eye-opening', 'interviews'],
  War: ['wwii', 'brutal', 'historical', 'soldiers'],
  Musical: ['great soundtrack', 'singing', 'dancing', 'broadway'],
  Western: ['cowboys', 'gunfights', 'frontier', 'desert'],
  'Film-Noir': ['noir', 'femme fatale', 'black and white', 'moody'],
};

interface Movie {
  id: number;
  title: string;
  genres: string[];
  year: number;
  quality: number;
  popularity: number;
}

interface User {
  id: number;
  taste: Float64Array;
  era: number;
  bias: number;
  activity: number;
}

/** CSV texts of the demo folder: ratings.csv, movies.csv, tags.csv. */
export interface DemoFiles {
  'ratings.csv': string;
  'movies.csv': string;
  'tags.csv': string;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)]!;

function weightedGenre(rng: Rng): string {
  const total = Object.values(GENRE_SHARE).reduce((a, b) => a + b, 0);
  let u = rng.next() * total;
  for (const g of GENRES) {
    u -= GENRE_SHARE[g]!;
    if (u < 0) return g;
  }
  return GENRES[GENRES.length - 1]!;
}

function makeTitle(rng: Rng, genre: string): string {
  const noun = pick(rng, NOUNS[genre]!);
  switch (rng.int(6)) {
    case 0:
      return `The ${pick(rng, ADJECTIVES)} ${noun}`;
    case 1:
      return `${pick(rng, ADJECTIVES)} ${noun}`;
    case 2:
      return `The ${noun} of ${pick(rng, PLACES)}`;
    case 3:
      return `${pick(rng, NAMES)} and the ${pick(rng, ADJECTIVES)} ${noun}`;
    case 4:
      return `${/^[AEIOU]/.test(noun) ? 'An' : 'A'} ${noun} in ${pick(rng, PLACES)}`;
    default:
      return `${pick(rng, ADJECTIVES)} ${noun} ${pick(rng, SEQUELS)}`;
  }
}

function makeMovies(rng: Rng): Movie[] {
  const seen = new Set<string>();
  const movies: Movie[] = [];
  for (let id = 1; id <= DEMO_MOVIES; id++) {
    const primary = weightedGenre(rng);
    const genres = [primary];
    for (const p of [0.6, 0.25]) {
      const g = pick(rng, COMPANIONS[primary]!);
      if (rng.next() < p && !genres.includes(g)) genres.push(g);
    }
    const year = 1940 + Math.round(79 * Math.sqrt(rng.next()));
    let title = makeTitle(rng, primary);
    // Redraw until unique (word lists are large enough that this ends quickly).
    while (seen.has(title)) title = makeTitle(rng, primary);
    seen.add(title);
    movies.push({ id, title: `${title} (${year})`, genres, year, quality: 0.5 * rng.normal(), popularity: 0 });
  }
  // Zipf popularity over a noisy quality rank: better films tend to be seen more.
  const key = movies.map((m) => m.quality + 0.7 * rng.normal());
  const byRank = movies.map((_, i) => i).sort((a, b) => key[b]! - key[a]! || a - b);
  byRank.forEach((i, r) => (movies[i]!.popularity = Math.pow(r + 1, -0.7)));
  return movies;
}

function makeUsers(rng: Rng): User[] {
  const users: User[] = [];
  for (let id = 1; id <= DEMO_USERS; id++) {
    const taste = Float64Array.from(GENRES, () => 0.3 * rng.normal());
    const order = rng.shuffle(GENRES.map((_, g) => g));
    taste[order[0]!]! += 1.2;
    taste[order[1]!]! += 1.0;
    taste[order[2]!]! -= 1.0;
    users.push({ id, taste, era: 0.5 * rng.normal(), bias: 0.3 * rng.normal(), activity: 20 + Math.round(260 * rng.next() ** 3) });
  }
  return users;
}

function affinity(user: User, movie: Movie): number {
  let s = 0;
  for (const g of movie.genres) s += user.taste[GENRES.indexOf(g)]!;
  // era > 0 likes recent films; the film's age is scaled to about [-1, 1] around 1990.
  return s / movie.genres.length + user.era * ((movie.year - 1990) / 40);
}

const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** Generate the demo folder's files; the same seed always gives the same bytes. */
export function generateDemo(seed = DEMO_SEED): DemoFiles {
  const rng = new Rng(seed);
  const movies = makeMovies(rng);
  const users = makeUsers(rng);
  const ratings: string[] = ['userId,movieId,rating,timestamp'];
  const tags: string[] = ['userId,movieId,tag,timestamp'];
  const start = Date.UTC(2003, 0, 1) / 1000;
  const span = Date.UTC(2018, 5, 1) / 1000 - start;
  for (const user of users) {
    // Efraimidis–Spirakis: the `activity` largest keys u^(1/w) are a weighted sample without replacement.
    const keys = movies.map((m) => Math.log(Math.max(rng.next(), 1e-300)) / (m.popularity * Math.exp(3 * affinity(user, m))));
    const chosen = movies.map((_, i) => i).sort((a, b) => keys[b]! - keys[a]! || a - b).slice(0, user.activity);
    rng.shuffle(chosen);
    const tagger = rng.next() < 1 / 3;
    let t = Math.floor(start + rng.next() * span);
    const rows: [number, number, number][] = [];
    for (const i of chosen) {
      const m = movies[i]!;
      // Mostly a minute or two apart within a session; one time in eight a new session days later.
      t += rng.next() < 0.125 ? 86_400 * (1 + rng.int(30)) : 20 + rng.int(120);
      const raw = 3.0 + 0.6 * m.quality + user.bias + 0.9 * affinity(user, m) + 0.5 * rng.normal();
      const stars = Math.min(5, Math.max(0.5, Math.round(raw * 2) / 2));
      rows.push([m.id, stars, t]);
      if (tagger && rng.next() < 1 / 7) {
        tags.push(`${user.id},${m.id},${csvField(pick(rng, TAGS[pick(rng, m.genres)]!))},${t + 5 + rng.int(60)}`);
      }
    }
    // Sorted by movieId within the user, as MovieLens's ratings.csv is.
    rows.sort((a, b) => a[0] - b[0]);
    for (const [id, stars, ts] of rows) ratings.push(`${user.id},${id},${stars.toFixed(1)},${ts}`);
  }
  const movieRows = ['movieId,title,genres', ...movies.map((m) => `${m.id},${csvField(m.title)},${m.genres.join('|')}`)];
  const text = (lines: string[]) => lines.join('\n') + '\n';
  return { 'ratings.csv': text(ratings), 'movies.csv': text(movieRows), 'tags.csv': text(tags) };
}
