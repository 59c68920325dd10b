export * from './dataset.js';
export { countingSort, groupByRowThenTime, externalIdOrder } from './sort.js';
export { sha256File, findInvalidUtf8, type TextEncoding, type InvalidUtf8 } from './scan.js';
export {
  INTERACTION_FORMATS,
  PRESETS as FORMAT_PRESETS,
  detectFormat,
  type InteractionFormat,
  type ColumnMapping,
  type ColumnRef,
  type FormatPreset,
} from './formats.js';
export {
  formatCleaningReport,
  formatColumns,
  formatValueScale,
  type CleaningReport,
  type CleaningIssue,
  type IssueKind,
  type IssueAction,
  type ColumnRole,
  type ColumnSource,
  type ColumnUse,
  type ColumnsUsed,
  type ValueScale,
} from './report.js';
export { STANDARD_SCALES, valueScale, observeValues, ratingRange, type ObservedValues } from './value-scale.js';
export { dropWarning, DEFAULT_DROP_WARNING } from './drop-warning.js';
export { parseJsonText, type JsonSource } from './json-error.js';
export {
  readInteractions,
  type ReadOptions,
  type LoadResult,
  type DuplicatePolicy,
  type MissingPolicy,
  type RangePolicy,
  type UnknownPolicy,
  type IdCatalogue,
} from './read-interactions.js';
export { readItemMetadata, readUserMetadata, readLookup, titleYear, type MetadataOptions, type MetadataColumns } from './metadata.js';
export { loadMovieLens, isMovieLensDir, ML100K_GENRES, type FolderLoadOptions, type FolderLoadResult } from './movielens.js';
export { loadLastfm, isLastfmDir, LASTFM_TEXT_TAGS } from './lastfm.js';
export { loadDataDir } from './load.js';
export { saveDataset, loadDatasetFile, isSnapshotFile, SNAPSHOT_VERSION } from './snapshot.js';
export {
  splitDataset,
  temporalRatioSplit,
  leaveLastNSplit,
  timeCutSplit,
  randomSplit,
  validationSplit,
  filterByMinValue,
  activeCounts,
  userTimeOrder,
  selectColdItems,
  splitByItems,
  P1_SPLIT,
  type Split,
  type SplitRule,
} from './split.js';
export { categoryCsr, type CategoryCsr } from './categories.js';
export { syntheticPowerLaw, type SyntheticConfig, type SyntheticData } from './synthetic.js';
