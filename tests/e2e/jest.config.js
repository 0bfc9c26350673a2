module.exports = { ...require('../../jest.preset.js'), rootDir: __dirname, testTimeout: 240_000, maxWorkers: 1 };
