export { GitModule } from './git.module';
export { GIT_REPOS } from './git-http.service';
export { GitRepos } from './repos';
