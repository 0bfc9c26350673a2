export * from './binaries';
export * from './ports';
export * from './process';
export * from './servers';
export * from './stack';
export * from './prometheus';
export * from './credentials';
