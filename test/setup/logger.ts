import { logger } from '../../shared/logger.js';

// Tests run silent unless ANOMSTACK_LOG_LEVEL asks for logs.
logger.level = process.env.ANOMSTACK_LOG_LEVEL ?? 'silent';
