export { runSimulation, type SimulationOptions, type SimulationResult } from './simulate.js';
export { SeedRun, type SeedMetrics, type SeedRunOptions, type SimSetup } from './runner.js';
export { buildSetup, type SetupOptions } from './setup.js';
export { loadSimData, type SimData } from './data.js';
export { writeSimReport, type ReportStampInfo } from './report.js';
export { meanCi, type MeanCi } from './stats.js';
