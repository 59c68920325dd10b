import { createHash } from 'node:crypto';
import type { Dataset, ItemMeta } from '../data/dataset.js';

/** What goes into an item's text (P2: title, year, genres; tags only in its second row). */
export interface ItemTextOptions {
  /** Append the item's tags (written after viewing, so P2 reports them separately). Default false. */
  tags?: boolean;
}

/**
 * The text an encoder sees for one item. When the data layer composed a `text` (MovieLens:
 * "Title (Year). Genres: A, B." — P2's primary item text) it is used as is, with the title put in
 * front when the text lacks it; otherwise "title | categories". Tags are appended only on request.
 * Empty string when the item has no metadata at all.
 */
export function itemText(meta: ItemMeta | undefined, options: ItemTextOptions = {}): string {
  if (!meta) return '';
  const parts: string[] = [];
  if (meta.text) {
    if (meta.title && !meta.text.includes(meta.title)) parts.push(meta.title);
    parts.push(meta.text);
  } else {
    if (meta.title) parts.push(meta.title);
    if (meta.categories && meta.categories.length > 0) parts.push(meta.categories.join(' '));
  }
  if (options.tags && meta.tags && meta.tags.length > 0) parts.push(`Tags: ${meta.tags.join(', ')}`);
  return parts.join(' | ');
}

/** Texts of every item index 0..nItems-1 of a dataset. */
export function itemTexts(data: Dataset, options: ItemTextOptions = {}): string[] {
  const out = new Array<string>(data.nItems);
  for (let i = 0; i < data.nItems; i++) out[i] = itemText(data.itemMeta[i], options);
  return out;
}

/** sha256 of a text (UTF-8), the cache key's second half. */
export function textHash(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

const WORD = /[\p{L}\p{N}]+/gu;

/** Lower-cased words, accents stripped (so "Amélie" and "Amelie" meet). */
export function words(text: string): string[] {
  const norm = text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
  return norm.match(WORD) ?? [];
}

/**
 * Features of a text for the built-in encoder: each word ("w:" prefix) and the character n-grams
 * of each word padded with spaces ("c:" prefix), with their counts. Character n-grams let unseen
 * inflections and nearby years ("1994"/"1995") share features.
 */
export function textFeatures(text: string, ngramMin: number, ngramMax: number, into = new Map<string, number>()): Map<string, number> {
  for (const w of words(text)) {
    const wk = 'w:' + w;
    into.set(wk, (into.get(wk) ?? 0) + 1);
    if (ngramMax <= 0) continue;
    const padded = ' ' + w + ' ';
    for (let n = ngramMin; n <= ngramMax; n++) {
      for (let s = 0; s + n <= padded.length; s++) {
        const ck = 'c:' + padded.slice(s, s + n);
        into.set(ck, (into.get(ck) ?? 0) + 1);
      }
    }
  }
  return into;
}
