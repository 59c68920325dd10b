import { main } from './src/cli/main.js';
main(process.argv).then((c) => { process.exitCode = c; });
